"""The one exception type analysis code raises for input it cannot use, and the marker of English messages.

Analysis modules know nothing of HTTP; the web layer maps ``code`` to a status
(``server/web/requests/errors.py``) and says ``message`` in the request's language
(its English is the message catalogs' msgid, translations/).
"""
from __future__ import annotations


def N_(message: str) -> str:
    """Marks an English message for the catalogs (``pybabel extract -k N_`` finds it) without translating it.

    Here, in the base every room may import, so the analysis rooms (the clinical scales' wording) mark their
    messages without importing the catalogs (server/assess/catalogs.py) or Flask.
    """
    return message


class Sentence(str):
    """English text built from a catalogs' template (a msgid marked ``N_()``) and its values.

    It *is* the English text (JSON, comparisons and printing see a plain string, byte for byte what an f-string
    gave), and it keeps ``template`` and ``values`` so the web layer can say it again in another language
    (``server/assess/localized.py`` ``localized_texts``) while analysis code stays free of the catalogs.
    A value may itself be a Sentence (said again too). ``Sentence(N_("..."), name=value)``.
    """

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, **values: object) -> "Sentence":
        text = super().__new__(cls, template % values if values else template)
        text.template = template
        text.values = values
        return text

    def __reduce__(self):  # pickled (a job's options) as its template and values
        return (_sentence, (self.template, self.values))


def _sentence(template: str, values: dict[str, object]) -> Sentence:
    return Sentence(template, **values)


class InputProblem(Exception):
    """Input that was understood but cannot be used, or could not be understood.

    ``code`` is a stable machine-readable name (e.g. ``"not_an_image"``);
    ``message`` is a sentence for the person who sent it, in English. Given as a
    template with ``%(name)s`` placeholders and their ``values``, the web layer can
    say it in another language (the template is the catalogs' msgid:
    ``pybabel extract -k InputProblem:2``); ``template`` and ``values`` keep them.
    """

    def __init__(self, code: str, message: str, **values: object) -> None:
        text = message % values if values else message
        super().__init__(text)
        self.code = code
        self.message = text
        self.template = message
        self.values = values
