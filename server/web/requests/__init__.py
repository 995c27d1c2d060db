"""Request helpers the handlers share: the services, inputs, uploads, language and error answers."""
