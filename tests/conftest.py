"""Shared fixtures of the test suite.

pytest puts this folder on ``sys.path`` (no ``__init__.py`` files, rootdir
import mode), so test modules import the helpers ``dist_utils`` and
``tiny_models`` directly.
"""
import pytest
import torch

from icar_mm.utils import register_all_modules

# as user code outside a Runner does: icar_mm's scope is the default one
register_all_modules()


@pytest.fixture(scope='module')
def single_thread():
    """Tiny models on a busy 2-core machine: one intra-op thread is faster.

    Use it in a module with ``pytestmark = pytest.mark.usefixtures(
    'single_thread')``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def restore_default_scope():
    """Each test leaves mmengine's default registry scope as it found it.

    A test that runs a host's Runner or calls ``init_default_scope``
    ('mmdet', 'mmaction'...) would otherwise change where later tests'
    configs resolve.
    """
    from mmengine.registry import DefaultScope
    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)
