"""Where the repository is, and its command-line tools as modules."""
import importlib.util
import os.path as osp
from types import ModuleType

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(path: str) -> ModuleType:
    """Import a script of ``tools/`` (``path`` relative to the repository)
    as a module, to call its functions in-process."""
    name = 'tool_' + osp.splitext(path)[0].replace('/', '_').replace('-', '_')
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO_ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
