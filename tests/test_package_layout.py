"""The floors of the house: which package may import which.

registry -> class texts -> models | datasets -> engine, evaluation, apis ->
downstream adapters -> tools. Read from the source (imports inside
functions included), so a late import cannot hide an upward dependency.
"""
import ast
import glob
import os.path as osp

import pytest

from repo_paths import REPO_ROOT

PACKAGE = osp.join(REPO_ROOT, 'icar_mm')


def _imports(path):
    """Absolute names of every module ``path`` imports."""
    rel = osp.relpath(path, REPO_ROOT)[:-3].replace(osp.sep, '.')
    package = rel.rsplit('.', 1)[0] if not rel.endswith('__init__') else \
        rel[:-len('.__init__')]
    tree = ast.parse(open(path, encoding='utf-8').read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module
                                          else []))
            else:
                module = node.module
            yield module
            yield from (f'{module}.{a.name}' for a in node.names)


def _files(sub):
    return sorted(glob.glob(osp.join(PACKAGE, sub, '**', '*.py'),
                            recursive=True))


@pytest.mark.parametrize('sub, forbidden', [
    ('datasets', ('icar_mm.models', 'icar_mm.engine', 'icar_mm.evaluation',
                  'icar_mm.apis', 'icar_mm.downstream', 'mmdet', 'mmseg',
                  'mmaction')),
    ('class_texts', ('icar_mm.models', 'icar_mm.datasets', 'icar_mm.engine',
                     'icar_mm.evaluation', 'icar_mm.apis',
                     'icar_mm.downstream', 'torch.nn')),
    ('models', ('icar_mm.datasets', 'icar_mm.engine', 'icar_mm.evaluation',
                'icar_mm.apis', 'icar_mm.downstream', 'mmdet', 'mmseg',
                'mmaction')),
])
def test_no_upward_import(sub, forbidden):
    bad = [(osp.relpath(f, REPO_ROOT), name) for f in _files(sub)
           for name in _imports(f)
           if name and name.startswith(forbidden)]
    assert not bad, bad


def test_nothing_is_registered_from_tools():
    bad = [osp.relpath(f, REPO_ROOT)
           for f in glob.glob(osp.join(REPO_ROOT, 'tools', '**', '*.py'),
                              recursive=True)
           if 'register_module' in open(f, encoding='utf-8').read()]
    assert not bad, bad


def test_icar_does_not_switch_on_its_head_type():
    source = open(osp.join(PACKAGE, 'models', 'icar.py')).read()
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, 'id', '') == 'isinstance'
             and 'cls_head' in ast.unparse(n.args[0])]
    assert not calls, [ast.unparse(c) for c in calls]
