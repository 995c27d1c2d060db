"""PainScope's version, in a module of its own.

Anything that reports the version (the health endpoint, the pages, the OpenAPI
document, a checkpoint's metadata) imports it from here, so that none of them
has to import ``server`` itself, the package that builds the app.
"""

__version__ = "0.1.0"
