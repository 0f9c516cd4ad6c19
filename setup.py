"""Packaging of icar_mm.

``pip install -e . --no-deps`` installs the package in development mode; the
CPU reference machine uses ``tools/install.sh`` (exact lock + mmcv built from
source). GPU users: see "Installing on a GPU machine" in ``README.md``.

As OpenMMLab's codebases do, the build also puts ``configs/``, ``tools/``
and ``model-index.yml`` into ``icar_mm/.mim/`` (symlinks for an editable
install, copies for a wheel or sdist), where OpenMMLab's ``mim`` looks for
them: ``mim train icar_mm CONFIG_NAME.py``.
"""
import os
import os.path as osp
import re
import shutil
import sys
import warnings
from typing import Dict, List, Optional, Sequence

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version(path: str = osp.join('icar_mm', 'version.py')) -> str:
    """Read ``__version__`` without importing the package.

    Importing :mod:`icar_mm` imports torch and the OpenMMLab stack, which may
    not be installed yet while pip builds the package.

    Args:
        path (str): Path of the version file, relative to the repository root.

    Returns:
        str: The version string.
    """
    with open(osp.join(HERE, path), encoding='utf-8') as f:
        content = f.read()
    match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", content,
                      re.MULTILINE)
    if match is None:
        raise RuntimeError(f'Cannot find __version__ in {path}')
    return match.group(1)


def parse_requirements(fname: str) -> List[str]:
    """Parse a requirements file into a list of requirement specifiers.

    Blank lines and ``#`` comments are skipped, as are pip options
    (``-r``, ``--no-deps``, ...).

    Args:
        fname (str): Path of the requirements file, relative to the
            repository root.

    Returns:
        list[str]: Requirement specifiers such as ``'mmdet>=3.3.0,<3.4.0'``.
    """
    requirements = []
    with open(osp.join(HERE, fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line or line.startswith('-'):
                continue
            requirements.append(line)
    return requirements


def extras() -> Dict[str, List[str]]:
    """Build ``extras_require`` from ``requirements/*.txt``.

    Returns:
        dict[str, list[str]]: Extras ``det``, ``seg``, ``action``, ``tests``
        and ``all`` (their union).
    """
    result = {
        name: parse_requirements(osp.join('requirements', f'{name}.txt'))
        for name in ('det', 'seg', 'action', 'tests')
    }
    merged: List[str] = []
    for reqs in result.values():
        for req in reqs:
            if req not in merged:
                merged.append(req)
    result['all'] = merged
    return result


#: what mim needs inside the package: the configs, the tools (mim runs
#: ``.mim/tools/train.py``) and the model index
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def mim_mode(argv: Sequence[str]) -> Optional[str]:
    """How the mim files go into the package for these setup.py commands.

    Args:
        argv (Sequence[str]): The setup.py command line (``sys.argv[1:]``).

    Returns:
        str | None: ``'symlink'`` for an editable install (``develop``, or
        PEP 660's ``editable_wheel``: the package stays in the source tree),
        ``'copy'`` for a built distribution (``bdist_wheel``, ``sdist``),
        None for other commands (metadata, egg_info, clean...).
    """
    if 'develop' in argv or 'editable_wheel' in argv:
        return 'symlink'
    if 'bdist_wheel' in argv or 'sdist' in argv:
        return 'copy'
    return None


def add_mim_extension(mode: Optional[str],
                      mim_path: str = osp.join(HERE, 'icar_mm', '.mim'),
                      root: str = HERE) -> List[str]:
    """Link or copy ``MIM_FILES`` of ``root`` into ``mim_path``.

    Each is replaced if it exists. Symlinks are relative, so the source tree
    can move; copies leave out ``__pycache__``.

    Args:
        mode (str | None): ``'symlink'``, ``'copy'`` or None (nothing).
        mim_path (str): The folder mim reads (``<package>/.mim``).
        root (str): The repository root holding ``MIM_FILES``.

    Returns:
        list[str]: The paths written under ``mim_path``.
    """
    if mode is None:
        return []
    if mode not in ('symlink', 'copy'):
        raise ValueError(f"mode must be 'symlink' or 'copy', got {mode!r}")
    os.makedirs(mim_path, exist_ok=True)
    written = []
    for name in MIM_FILES:
        src = osp.join(root, name)
        if not osp.exists(src):
            warnings.warn(f'{src} does not exist; mim will not find it.')
            continue
        dst = osp.join(mim_path, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, osp.dirname(dst)), dst)
        elif osp.isdir(src):
            shutil.copytree(
                src, dst, ignore=shutil.ignore_patterns('__pycache__',
                                                        '*.pyc'))
        else:
            shutil.copyfile(src, dst)
        written.append(dst)
    return written


if __name__ == '__main__':
    add_mim_extension(mim_mode(sys.argv[1:]))
    readme = osp.join(HERE, 'README.md')
    long_description = ''
    if osp.exists(readme):
        with open(readme, encoding='utf-8') as f:
            long_description = f.read()
    setup(
        name='icar_mm',
        version=read_version(),
        description='iCAR: joint image classification and image-text '
        'alignment for OpenMMLab (mmengine / mmpretrain)',
        long_description=long_description,
        long_description_content_type='text/markdown',
        license='Apache-2.0',
        packages=find_packages(include=['icar_mm', 'icar_mm.*']),
        include_package_data=True,
        python_requires='>=3.8',
        install_requires=parse_requirements(
            osp.join('requirements', 'runtime.txt')),
        extras_require=extras(),
        classifiers=[
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        zip_safe=False,
    )
