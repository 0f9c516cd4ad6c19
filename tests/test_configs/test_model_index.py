"""OpenMMLab model-zoo conventions: model index, metafiles, READMEs, mim.

``model-index.yml`` imports one ``metafile.yml`` per config family
(``Collections`` + ``Models`` with ``Name``, ``Metadata``, ``In Collection``,
``Results``, ``Config``), as mmpretrain's do. Paths in them are relative to
the repository root (mim and mmengine join ``Config`` to the package's
``.mim`` folder, which mirrors the root), not to the metafile as the
``model-index`` package's own ``check()`` assumes. ``setup.py`` links or
copies ``configs``, ``tools`` and ``model-index.yml`` into ``icar_mm/.mim``,
where ``mim train icar_mm NAME.py`` looks for them.
"""
import glob
import importlib.util
import json
import os
import os.path as osp

import pytest
import yaml
from mmengine.config import Config

import icar_mm  # noqa: F401
from repo_paths import REPO_ROOT

INDEX = osp.join(REPO_ROOT, 'model-index.yml')
CONFIGS = osp.join(REPO_ROOT, 'configs')
DEMO = 'configs/icar/icar_resnet18-minilm_1xb64_synthetic-world.py'


def _rel(path):
    return osp.relpath(path, REPO_ROOT).replace(os.sep, '/')


def _load_yaml(path):
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


def _metafiles():
    return _load_yaml(INDEX)['Import']


def _models():
    return [(meta, model) for meta in _metafiles()
            for model in _load_yaml(osp.join(REPO_ROOT, meta))['Models']]


def _families():
    """Folders under configs/ that hold experiment configs (not _base_)."""
    found = set()
    for path in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True):
        if '_base_' not in _rel(path).split('/'):
            found.add(_rel(osp.dirname(path)))
    return sorted(found)


def test_model_index_imports_every_metafile():
    index = _load_yaml(INDEX)
    assert list(index) == ['Import']
    imported = index['Import']
    assert len(imported) == len(set(imported))
    for meta in imported:
        assert osp.isfile(osp.join(REPO_ROOT, meta)), meta
    on_disk = sorted(
        _rel(p) for p in glob.glob(
            osp.join(CONFIGS, '**', 'metafile.yml'), recursive=True))
    assert sorted(imported) == on_disk


@pytest.mark.parametrize('meta', _metafiles())
def test_metafile_has_the_model_index_format(meta):
    data = _load_yaml(osp.join(REPO_ROOT, meta))
    assert set(data) == {'Collections', 'Models'}, meta
    collections = {c['Name']: c for c in data['Collections']}
    family = osp.dirname(meta)
    for c in collections.values():
        assert c['README'] == f'{family}/README.md'
        assert osp.isfile(osp.join(REPO_ROOT, c['README']))
        assert c['Paper']['URL'].startswith('https://')
    for model in data['Models']:
        name = model['Name']
        assert {'Name', 'Metadata', 'In Collection', 'Results',
                'Config'} <= set(model), name
        assert set(model) <= {'Name', 'Metadata', 'In Collection', 'Results',
                              'Config', 'Weights', 'Converted From'}, name
        assert model['In Collection'] in collections, name
        assert isinstance(model['Metadata'], dict), name
        # a family's metafile lists its own configs
        assert osp.dirname(model['Config']) == family, name
        # no weights were trained or released: Results without Weights are
        # the figures the repository measured, None where nothing was run
        results = model['Results']
        assert results is None or isinstance(results, list), name
        for result in results or []:
            assert set(result) == {'Task', 'Dataset', 'Metrics'}, name
            assert result['Metrics'] and all(
                isinstance(v, (int, float))
                for v in result['Metrics'].values()), name


def test_model_names_are_unique_and_the_index_parses():
    names = [model['Name'] for _, model in _models()]
    assert len(names) == len(set(names))
    modelindex = pytest.importorskip(
        'modelindex', reason='the model-index package is not installed; '
        'the metafiles were parsed with yaml only')
    cwd = os.getcwd()
    os.chdir(REPO_ROOT)
    try:
        index = modelindex.load('model-index.yml')
    finally:
        os.chdir(cwd)
    assert sorted(m.name for m in index.models) == sorted(names)
    by_name = {m.name: m for m in index.models}
    demo = by_name['icar_resnet18-minilm_1xb64_synthetic-world']
    assert demo.config == DEMO
    assert demo.results[0].metrics['Top 1 Accuracy'] == 78.0


@pytest.mark.parametrize('config', sorted(
    {model['Config'] for _, model in _models()}))
def test_every_config_path_loads(config):
    path = osp.join(REPO_ROOT, config)
    assert osp.isfile(path), config
    cfg = Config.fromfile(path)
    assert cfg.get('model') is not None, config


@pytest.mark.parametrize('family', _families())
def test_every_family_has_readme_and_metafile(family):
    folder = osp.join(REPO_ROOT, family)
    for name in ('README.md', 'metafile.yml'):
        assert osp.isfile(osp.join(folder, name)), (
            f'{family}/ has configs but no {name}: add one in the format of '
            'the other families (see configs/icar/) and import the metafile '
            'in model-index.yml')
    listed = {
        osp.basename(m['Config'])
        for m in _load_yaml(osp.join(folder, 'metafile.yml'))['Models']
    }
    configs = {osp.basename(p) for p in glob.glob(osp.join(folder, '*.py'))}
    assert configs == listed, (family, configs ^ listed)
    readme = open(osp.join(folder, 'README.md'), encoding='utf-8').read()
    assert readme.startswith('# ')
    for section in ('## Abstract', '## How to use it?',
                    '## Models and results', '## Citation'):
        assert section in readme, (family, section)
    for config in configs:  # each config has its row
        assert f'({config})' in readme, (family, config)


def test_config_names_are_unique_for_mim():
    """``mim train icar_mm NAME.py`` finds a config by its file name."""
    names = [osp.basename(p) for p in glob.glob(
        osp.join(CONFIGS, '**', '*.py'), recursive=True)]
    assert len(names) == len(set(names)), sorted(
        n for n in set(names) if names.count(n) > 1)


def test_ablation_results_are_the_reported_ones():
    """The metafile's figures are those of docs/ablation/ablation.json."""
    summary = _load_yaml_json('docs/ablation/ablation.json')['summary']
    meta = _load_yaml(osp.join(REPO_ROOT, 'configs/ablation/metafile.yml'))
    keys = {
        ('Image Classification', 'Top 1 Accuracy'): 'seen_top1',
        ('Zero-shot Image Classification', 'Top 1 Accuracy (names)'):
        'zs_names',
        ('Zero-shot Image Classification',
         'Top 1 Accuracy (names + descriptions)'): 'zs_described',
        ('Few-shot Image Classification', '1-shot Top 1 Accuracy'):
        'few_shot_1',
        ('Few-shot Image Classification', '4-shot Top 1 Accuracy'):
        'few_shot_4',
        ('Linear Probe', 'Top 1 Accuracy'): 'linear_probe',
        ('Image-Text Retrieval', 'Recall@1 (mean of both directions)'):
        'retrieval_r1',
    }
    for model in meta['Models']:
        variant = model['Name'][len('ablation_'):]
        assert model['Config'] == f'configs/ablation/{variant}.py'
        got = {(r['Task'], k): v for r in model['Results'] or []
               for k, v in r['Metrics'].items()}
        # a variant without finished runs has no results (not run yet)
        per = summary.get(variant)
        want = {k: round(per[m]['mean'], 1)
                for k, m in keys.items() if per and per[m]['n']}
        assert got == want, variant


def test_finetune_clip_results_are_the_reported_ones():
    """The metafile's figures are docs/finetune_clip/finetune_clip.json's
    (the start is alpha 0 of the WiSE-FT curve, each arm alpha 1)."""
    res = _load_yaml_json('docs/finetune_clip/finetune_clip.json')
    meta = _load_yaml(
        osp.join(REPO_ROOT, 'configs/finetune_clip/metafile.yml'))
    first = next(iter(res['arms'].values()))
    want = {'clip_resnet18-minilm_1xb32_synthetic-world': first['mean']['0']}
    want.update({osp.basename(a['config'])[:-3]: a['mean']['1']
                 for a in res['arms'].values()})
    got = {m['Name']: {(r['Task'], k): v for r in m['Results']
                       for k, v in r['Metrics'].items()}
           for m in meta['Models'] if m['Results']}
    assert set(got) == set(want)
    for name, m in want.items():
        assert got[name] == {
            ('Image Classification', 'Top 1 Accuracy'): round(m['seen'], 1),
            ('Zero-shot Image Classification',
             'Top 1 Accuracy (names + descriptions)'): round(
                 m['heldout'], 1),
            ('Zero-shot Image Classification', 'Top 1 Accuracy (names)'):
            round(m['heldout_names'], 1)
        }, name


def _load_yaml_json(rel):
    with open(osp.join(REPO_ROOT, rel), encoding='utf-8') as f:
        return json.load(f)


def _setup_module():
    """``setup.py`` as a module (its ``setup()`` call is under __main__)."""
    spec = importlib.util.spec_from_file_location(
        'icar_mm_setup', osp.join(REPO_ROOT, 'setup.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_setup_puts_configs_tools_and_index_into_mim_folder(tmp_path):
    setup = _setup_module()
    assert setup.mim_mode(['develop']) == 'symlink'
    assert setup.mim_mode(['editable_wheel', '--dist-dir', 'x']) == 'symlink'
    assert setup.mim_mode(['bdist_wheel']) == 'copy'
    assert setup.mim_mode(['sdist']) == 'copy'
    assert setup.mim_mode(['egg_info']) is None
    assert setup.mim_mode(['dist_info']) is None
    # editable: relative symlinks into the source tree
    linked = str(tmp_path / 'linked' / '.mim')
    written = setup.add_mim_extension('symlink', linked, REPO_ROOT)
    assert [osp.basename(p) for p in written] == list(setup.MIM_FILES)
    for name in setup.MIM_FILES:
        path = osp.join(linked, name)
        assert osp.islink(path) and not osp.isabs(os.readlink(path))
        assert osp.realpath(path) == osp.realpath(osp.join(REPO_ROOT, name))
    assert osp.isfile(osp.join(linked, DEMO))
    # a wheel / sdist: copies, without caches; a second run replaces them
    copied = str(tmp_path / 'copied' / '.mim')
    for _ in range(2):
        setup.add_mim_extension('copy', copied, REPO_ROOT)
    for name in setup.MIM_FILES:
        assert not osp.islink(osp.join(copied, name))
    assert open(osp.join(copied, DEMO)).read() == open(
        osp.join(REPO_ROOT, DEMO)).read()
    assert osp.isfile(osp.join(copied, 'tools', 'train.py'))
    assert not glob.glob(osp.join(copied, '**', '__pycache__'),
                         recursive=True)
    assert _load_yaml(osp.join(copied, 'model-index.yml')) == _load_yaml(
        INDEX)
    # what mmengine / mim read: every Config of the index under .mim
    for _, model in _models():
        assert osp.isfile(osp.join(copied, model['Config']))
    assert setup.add_mim_extension(None, str(tmp_path / 'none')) == []
    assert not osp.exists(tmp_path / 'none')


def test_gitignore_ignores_the_mim_folder():
    lines = open(osp.join(REPO_ROOT, '.gitignore')).read().split()
    assert 'icar_mm/.mim/' in lines


def test_mim_resolves_a_config_name():
    """What ``mim train icar_mm NAME.py`` does to find the config file."""
    try:
        import mim  # noqa: F401
        from mim.utils import get_installed_path, recursively_find
    except ImportError:
        pytest.skip(
            'openmim is not installed here: it is not part of the CPU lock '
            'because it pulls pandas and opendatalab/openxlab, which pins '
            'setuptools 60 (the stack needs >=77); with `pip install -U '
            'openmim` this test checks the lookup of `mim train`')
    pkg_root = get_installed_path('icar_mm')
    if not osp.isdir(pkg_root):
        pytest.skip(
            f'mim locates icar_mm at {pkg_root}, which does not exist: '
            'mim (and mmengine) join the location of the distribution\'s '
            'metadata with the package name, which misses a PEP 660 '
            'editable install (its metadata is in site-packages, the code '
            'in the source tree). Install icar_mm non-editable '
            '(`pip install --no-deps .`) for mim to find it.')
    if not osp.isdir(osp.join(pkg_root, '.mim')):
        pytest.skip(
            f'{pkg_root} has no .mim folder: this icar_mm was installed '
            'before setup.py put configs, tools and model-index.yml there; '
            'reinstall it (`pip install --no-deps --no-build-isolation -e .`'
            ' links them)')
    name = osp.basename(DEMO)
    files = recursively_find(pkg_root, name, followlinks=True)
    assert len(files) == 1, files
    assert osp.exists(osp.join(pkg_root, '.mim', 'tools', 'train.py'))
    found = osp.realpath(files[0])
    if osp.realpath(pkg_root) == osp.realpath(osp.join(REPO_ROOT,
                                                       'icar_mm')):
        assert found == osp.realpath(osp.join(REPO_ROOT, DEMO))
    else:  # an installed copy
        assert open(found).read() == open(osp.join(REPO_ROOT, DEMO)).read()
