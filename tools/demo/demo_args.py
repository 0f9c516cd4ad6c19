"""The command line the demos share: an image, a model and class texts.

Importing it puts the repository root on ``sys.path`` (the demos run
without ``pip install -e .``).
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def class_list(texts: str) -> list:
    """``--texts "cat . dog"`` -> ``['cat', 'dog']``; none is an error."""
    from icar_mm.apis import parse_texts
    classes = parse_texts(texts)
    if not classes:
        raise argparse.ArgumentTypeError(
            f'{texts!r} names no class: give the classes to rank separated '
            'by " . ", e.g. --texts "cat . dog . a red car"')
    return classes


def demo_parser(description: str, templates: str) -> argparse.ArgumentParser:
    """``IMAGE CONFIG CHECKPOINT --texts [--descriptions] [--templates]
    [--device]``; a demo adds its own options."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument('image')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--texts', required=True, type=class_list,
                   help='classes separated by " . ", e.g. "cat . dog"')
    p.add_argument('--descriptions', default=None,
                   help='JSON/TSV class-text file with a description per '
                   'class name')
    p.add_argument('--templates', default=templates,
                   help=f'prompt template set (default {templates!r})')
    p.add_argument('--device', default='cpu')
    return p
