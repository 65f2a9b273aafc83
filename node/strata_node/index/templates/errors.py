"""The errors the template APIs answer with, typed and worded as Elasticsearch's."""

from __future__ import annotations

from ...common.errors import StrataError


class InvalidIndexTemplate(StrataError):
    """InvalidIndexTemplateException: a template whose name, patterns or settings are bad,
    or that names component templates that do not exist."""

    type = "invalid_index_template_exception"
    status = 400

    def __init__(self, name: str, cause: str):
        super().__init__(f"index_template [{name}] invalid, cause [{cause}]")


class IndexTemplateMissing(StrataError):
    """IndexTemplateMissingException: deleting an index template that does not exist."""

    type = "index_template_missing_exception"
    status = 404

    def __init__(self, name: str):
        super().__init__(f"index_template [{name}] missing")


class TemplateNotFound(StrataError):
    """ResourceNotFoundException, as the get and delete component template APIs and the
    get index template API raise it."""

    type = "resource_not_found_exception"
    status = 404
