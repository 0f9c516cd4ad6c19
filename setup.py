"""Packaging of icar_mm.

``pip install -e . --no-deps`` installs the package in development mode; the
CPU reference machine uses ``tools/install.sh`` (exact lock + mmcv built from
source). GPU users: see "Installing on a GPU machine" in ``README.md``.
"""
import os.path as osp
import re
from typing import Dict, List

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


if __name__ == '__main__':
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
