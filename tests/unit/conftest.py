from tests.support.gated_writers import writers  # noqa: F401  (the engine tests' store writers held at a gate)
