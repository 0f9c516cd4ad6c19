#!/usr/bin/env python
"""Annotation file + class-text file for an ImageNet-style folder.

    python tools/dataset_converters/imagenet_folder_to_ann.py \
        data/imagenet21k --split train

reads ``ROOT/SPLIT/<class>/**/<image>`` and writes

* ``ROOT/meta/SPLIT.txt`` -- ``<class>/<file> <label>`` per image (paths
  relative to ``ROOT/SPLIT``; mmpretrain's format);
* ``ROOT/meta/classes.tsv`` -- ``name<TAB>description<TAB>aliases`` per
  class in label order (a class-text file for ``LabelledImageDataset`` /
  ``ClassTextBank(file=...)``); classes named by an ImageNet synset get its
  WordNet lemma names and gloss, the others their folder name and an empty
  description to fill in (listed at the end).

Labels: with ``--subset imagenet-22k`` / ``imagenet-1k`` (the default picks
one when every folder is a synset of it) the label is the index in the
standard sorted synset list, which is what ``ImageNetDescribed`` and the
``imagenet-22k`` class texts expect; otherwise the sorted folders are
numbered 0..C-1.
"""
import argparse
import os
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('root', help='dataset root (holds SPLIT/<class>/...)')
    p.add_argument('--split', default='train', help='image folder under '
                   'root (default: train)')
    p.add_argument('--out-dir', default=None,
                   help='where to write (default: ROOT/meta)')
    p.add_argument('--subset', default='auto',
                   choices=['auto', 'none', 'imagenet-1k', 'imagenet-22k'],
                   help='label by an ImageNet synset list (auto: when every '
                   'folder is one of its synsets)')
    p.add_argument('--class-file', default='classes.tsv',
                   help='name of the class-text file (.tsv or .json)')
    return p.parse_args(argv)


def convert(root: str, split: str = 'train', out_dir: str = None,
            subset: str = 'auto', class_file: str = 'classes.tsv') -> dict:
    """Write the annotation and class-text files; return what was written.

    Returns:
        dict: ``ann_file``, ``class_file``, ``num_images``, ``num_classes``,
        ``subset`` (None when labels number the folders), ``undescribed``
        (classes without a description).
    """
    image_root = osp.join(root, split) if split else root
    if not osp.isdir(image_root):
        raise FileNotFoundError(f'{image_root} is not a folder of class '
                                'folders.')
    out_dir = out_dir or osp.join(root, 'meta')
    os.makedirs(out_dir, exist_ok=True)
    from icar_mm.datasets.labelled_image_dataset import scan_class_folders
    found = scan_class_folders(image_root)
    if not found:
        raise ValueError(f'No class folders under {image_root}.')
    from icar_mm.class_texts.wordnet import (imagenet_synsets, synset_glosses,
                                             synset_lemmas)
    lemmas, glosses = synset_lemmas(), synset_glosses()
    if subset == 'auto':
        subset = 'none'
        for name in ('imagenet-1k', 'imagenet-22k'):
            if set(found) <= set(imagenet_synsets(name)):
                subset = name
                break
    if subset != 'none':
        synsets = imagenet_synsets(subset)
        index = {s: i for i, s in enumerate(synsets)}
        unknown = sorted(set(found) - set(index))
        if unknown:
            raise ValueError(f'{len(unknown)} folder(s) are not {subset} '
                             f'synsets: {unknown[:10]}; use --subset none.')
        labels = {f: index[f] for f in found}
        class_list = synsets
    else:
        class_list = list(found)
        labels = {f: i for i, f in enumerate(class_list)}
    ann_file = osp.join(out_dir, f'{split or "images"}.txt')
    n = 0
    with open(ann_file, 'w', encoding='utf-8') as f:
        for folder, files in found.items():
            for rel in files:
                f.write(f'{rel} {labels[folder]}\n')
                n += 1
    entries, undescribed = [], []
    for key in class_list:
        names = lemmas.get(key)
        if names:
            name, aliases = names[0], names[1:] + [key]
            description = glosses.get(key, '')
        else:
            name = key.replace('_', ' ')
            aliases = [key] if name != key else []
            description = ''
        if not description:
            undescribed.append(key)
        entries.append(dict(name=name, description=description,
                            aliases=aliases))
    class_path = osp.join(out_dir, class_file)
    if class_file.endswith('.json'):
        import json
        with open(class_path, 'w', encoding='utf-8') as f:
            json.dump(entries, f, indent=1, ensure_ascii=False)
    else:
        with open(class_path, 'w', encoding='utf-8') as f:
            f.write('name\tdescription\taliases\n')
            for e in entries:
                clean = [str(v).replace('\t', ' ').replace('\n', ' ')
                         for v in (e['name'], e['description'])]
                f.write('\t'.join(clean + [';'.join(e['aliases'])]) + '\n')
    return dict(
        ann_file=ann_file,
        class_file=class_path,
        num_images=n,
        num_classes=len(class_list),
        num_folders=len(found),
        subset=None if subset == 'none' else subset,
        undescribed=undescribed)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = convert(args.root, args.split, args.out_dir, args.subset,
                  args.class_file)
    print(f'{out["num_images"]} images in {out["num_folders"]} class '
          f'folders -> {out["ann_file"]}')
    print(f'{out["num_classes"]} classes -> {out["class_file"]}'
          + (f' (labels = {out["subset"]} synset indices)'
             if out['subset'] else ''))
    if out['undescribed']:
        print(f'{len(out["undescribed"])} class(es) have no description; '
              'fill them in before training iCAR with descriptions: '
              f'{out["undescribed"][:20]}')
    if out['subset']:
        print('Use: dict(type="ImageNetDescribed", subset='
              f'"{out["subset"]}", data_root=ROOT, ann_file='
              f'"meta/{osp.basename(out["ann_file"])}", data_prefix='
              f'"{args.split}")')
    else:
        print('Use: dict(type="LabelledImageDataset", class_texts=dict('
              f'file="{out["class_file"]}"), data_root=ROOT, ann_file='
              f'"meta/{osp.basename(out["ann_file"])}", data_prefix='
              f'"{args.split}")')
    return 0


if __name__ == '__main__':
    sys.exit(main())
