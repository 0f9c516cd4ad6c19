"""The synthetic-world package imports no host library of the downstream
adapters: mmseg, mmaction2 and mmdet stay optional."""
import subprocess
import sys

HOSTS = ('mmseg', 'mmaction', 'mmdet')


def test_no_host_library_is_imported():
    code = (
        'import importlib, pkgutil, sys\n'
        'import icar_mm.datasets.synthetic_world as pkg\n'
        'names = [m.name for m in pkgutil.iter_modules(pkg.__path__, '
        "pkg.__name__ + '.')]\n"
        'for name in names:\n'
        '    importlib.import_module(name)\n'
        f'hosts = {HOSTS!r}\n'
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in hosts)\n"
        'print(len(names), loaded)\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    count, loaded = proc.stdout.strip().split(' ', 1)
    assert int(count) >= 14, proc.stdout
    assert loaded == '[]', loaded


def test_datasets_package_exports_the_world():
    import icar_mm.datasets as datasets
    from icar_mm.datasets import synthetic_world
    for name in ('SyntheticWorld', 'SyntheticWorldClsDataset',
                 'SyntheticWorldCaptionDataset', 'SyntheticWorldClips',
                 'clip_class_texts', 'synthetic_world_class_texts',
                 'export_synthetic_world_webdataset', 'export_semantic',
                 'semantic_class_texts'):
        assert getattr(datasets, name) is getattr(synthetic_world, name)
    from icar_mm.registry import CLASS_TEXT_SOURCES, DATASETS
    for name in ('synthetic_world', 'synthetic_world_semantic',
                 'synthetic_world_clips'):
        assert CLASS_TEXT_SOURCES.get(name) is not None, name
    for name in ('SyntheticWorldClsDataset', 'SyntheticWorldCaptionDataset'):
        assert DATASETS.get(name) is not None, name
