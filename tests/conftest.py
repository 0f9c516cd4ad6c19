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


def _scope_snapshot():
    """Restore mmengine's default registry scopes as they were on entry."""
    from mmengine.registry import DefaultScope
    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)


#: Each test, and each module (its module-scoped fixtures included), leaves
#: mmengine's default scope as it found it: a Runner or ``init_default_scope``
#: of another scope ('mmdet', 'mmpretrain'...) would otherwise change where
#: later tests' configs resolve.
restore_default_scope = pytest.fixture(autouse=True)(_scope_snapshot)
restore_module_default_scope = pytest.fixture(
    autouse=True, scope='module')(_scope_snapshot)
