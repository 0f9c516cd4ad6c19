"""Where the repository is, for tests that read its configs and tools."""
import os.path as osp

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
