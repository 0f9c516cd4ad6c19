"""Set up icar_mm's environment: registration and the default scope."""


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register icar_mm's modules and make ``'icar_mm'`` the default scope.

    A Runner sets the scope from the config's ``default_scope``; code that
    builds from configs without one (a dataset, a model in a notebook)
    calls this first, as with mmpretrain's and mmdet's function of the same
    name. mmpretrain's own classes then build their parts (a dataset's
    pipeline) in icar_mm's scope, where icar_mm's transforms and mmpretrain's
    both resolve.

    Args:
        init_default_scope (bool): Set the default scope to ``'icar_mm'``
            (with a warning when another one is current). Defaults to True.
    """
    import icar_mm.apis  # noqa: F401
    import icar_mm.datasets  # noqa: F401
    import icar_mm.engine  # noqa: F401
    import icar_mm.evaluation  # noqa: F401
    import icar_mm.models  # noqa: F401
    if init_default_scope:
        from mmengine.registry import init_default_scope as init_scope
        init_scope('icar_mm')
