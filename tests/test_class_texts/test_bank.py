"""ClassTextBank: sources, files, formatting, sampling and errors."""
import json

import pytest
import torch

import icar_mm  # noqa: F401
from icar_mm.class_texts import (ClassTextBank, build_class_text_bank,
                                 get_templates)

TENCH_GLOSS = ('freshwater dace-like game fish of Europe and western Asia '
               'noted for ability to survive outside water')


# ----------------------------------------------------------------- ImageNet
@pytest.fixture(scope='module')
def imagenet22k():
    return ClassTextBank(source=dict(type='imagenet-22k'))


def test_imagenet_22k_has_every_class_described(imagenet22k):
    bank = imagenet22k
    assert len(bank) == 21841
    assert all(str(c['description']).strip() for c in bank.classes)
    assert all(str(c['name']).strip() for c in bank.classes)
    assert len({c['synset'] for c in bank.classes}) == 21841
    tench = [c for c in bank.classes if c['synset'] == 'n01440764']
    assert len(tench) == 1
    assert tench[0]['name'] == 'tench'
    assert tench[0]['description'] == TENCH_GLOSS
    assert tench[0]['aliases'] == ['Tinca tinca']
    assert bank.num_templates == 80


def test_imagenet_1k():
    bank = ClassTextBank(source=dict(type='imagenet-1k'), templates=['{}'])
    assert len(bank) == 1000
    first = bank.classes[0]
    assert first['synset'] == 'n01440764' and first['name'] == 'tench'
    assert first['description'] == TENCH_GLOSS
    assert bank.class_texts[0] == 'tench, ' + TENCH_GLOSS.lower()
    assert all(c['description'] for c in bank.classes)
    assert bank.names[-1] == 'toilet tissue'  # n15075141
    names_only = ClassTextBank(
        source=dict(type='imagenet-1k'), use_descriptions=False)
    assert names_only.class_texts[0] == 'tench'


def test_imagenet_explicit_synsets():
    bank = ClassTextBank(
        source=dict(type='imagenet-22k', synsets=['n01440764', 'n02084071']),
        templates=['{}'])
    assert bank.names == ['tench', 'dog']
    with pytest.raises(KeyError, match='n99999999'):
        ClassTextBank(source=dict(type='imagenet-1k', synsets=['n99999999']))


# ------------------------------------------------------------- descriptions
def test_missing_description_is_a_clear_error():
    with pytest.raises(ValueError) as e:
        ClassTextBank(classes=[
            dict(name='a', description='x'),
            dict(name='b', description='')
        ])
    msg = str(e.value)
    assert '1 class(es)' in msg and "1: 'b'" in msg
    assert 'no description' in msg and 'use_descriptions=False' in msg
    assert "'a'" not in msg
    # plain names have no description either
    with pytest.raises(ValueError, match='no description'):
        ClassTextBank(classes=['cat'])


def test_names_only_needs_no_description():
    bank = ClassTextBank(
        classes=[dict(name='A', description='x'), 'B'],
        use_descriptions=False,
        templates=['a {}.'])
    assert bank.class_texts == ['a', 'b']
    assert bank.sample_texts() == ['a a.', 'a b.']


def test_format_and_case():
    classes = [dict(name='Tench', description='A Fish')]
    bank = ClassTextBank(classes=classes, templates=['{}'])
    assert bank.class_texts == ['tench, a fish']
    bank = ClassTextBank(
        classes=classes,
        templates=['{}'],
        text_format='{name} ({description})',
        lowercase=False)
    assert bank.class_texts == ['Tench (A Fish)']


# -------------------------------------------------------------------- files
def _write_json(tmp_path, data):
    path = tmp_path / 'classes.json'
    path.write_text(json.dumps(data))
    return str(path)


def _write_tsv(tmp_path, rows, header=True):
    path = tmp_path / 'classes.tsv'
    lines = (['name\tdescription\taliases'] if header else []) + rows
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


@pytest.mark.parametrize('kind', ['json', 'tsv'])
def test_file_not_matching_dataset_is_a_clear_error(tmp_path, kind):
    if kind == 'json':
        path = _write_json(tmp_path, [
            dict(name='cat', description='a feline'),
            dict(name='bird', description='a flyer')
        ])
    else:
        path = _write_tsv(tmp_path,
                          ['cat\ta feline\tkitty', 'bird\ta flyer\t'])
    with pytest.raises(ValueError) as e:
        ClassTextBank(classes=['cat', 'dog'], file=path)
    msg = str(e.value)
    assert 'does not match' in msg and path in msg
    assert "['dog']" in msg and '1 of its 2 classes' in msg
    assert "'cat'" not in msg.split('classes are not in the file')[-1]


@pytest.mark.parametrize('kind', ['json', 'json-dict', 'tsv'])
def test_file_matched_in_dataset_order(tmp_path, kind):
    if kind == 'json':
        path = _write_json(tmp_path, [
            dict(name='cat', description='a feline', aliases=['kitty']),
            dict(name='dog', description='a canine')
        ])
    elif kind == 'json-dict':
        path = _write_json(tmp_path, {'Cat': 'a feline', 'dog': 'a canine'})
    else:
        path = _write_tsv(tmp_path,
                          ['cat\ta feline\tkitty;puss', 'dog\ta canine'])
    bank = ClassTextBank(
        classes=['dog', 'cat' if kind == 'json-dict' else 'kitty'],
        file=path,
        templates=['{}'])
    assert bank.class_texts == ['dog, a canine', 'cat, a feline']
    whole = ClassTextBank(file=path, templates=['{}'])
    assert [n.lower() for n in whole.names] == ['cat', 'dog']


def test_tsv_without_header_and_missing_description(tmp_path):
    path = _write_tsv(tmp_path, ['cat\ta feline', 'dog'], header=False)
    with pytest.raises(ValueError, match="1: 'dog'"):
        ClassTextBank(file=path)
    assert ClassTextBank(file=path, use_descriptions=False).names == [
        'cat', 'dog'
    ]


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        ClassTextBank(file=str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{not json')
    with pytest.raises(ValueError, match='not valid JSON'):
        ClassTextBank(file=str(bad))
    path = _write_json(tmp_path, [dict(description='nameless')])
    with pytest.raises(ValueError, match='non-empty "name"'):
        ClassTextBank(file=path)


def test_bad_arguments():
    with pytest.raises(ValueError, match='one of'):
        ClassTextBank(classes=['a'], source=dict(type='imagenet-1k'))
    with pytest.raises(ValueError, match='needs'):
        ClassTextBank()
    with pytest.raises(ValueError, match='empty'):
        ClassTextBank(classes=[])


def test_unknown_source_is_a_clear_error():
    with pytest.raises(KeyError) as e:
        ClassTextBank(source=dict(type='no-such-source'))
    msg = str(e.value)
    assert 'Unknown class-text source' in msg and 'no-such-source' in msg
    assert 'imagenet-22k' in msg


# ------------------------------------------------------ templates, sampling
def test_sample_texts_one_template_per_class_reproducible():
    templates = [f't{i} {{}}' for i in range(10)]
    bank = ClassTextBank(
        classes=['a', 'b', 'c'], templates=templates, use_descriptions=False)
    texts = bank.sample_texts([2, 0], torch.Generator().manual_seed(0))
    assert [t.split(' ')[1] for t in texts] == ['c', 'a']
    assert all(t.split(' ')[0] in {f't{i}' for i in range(10)}
               for t in texts)
    again = bank.sample_texts([2, 0], torch.Generator().manual_seed(0))
    assert texts == again
    draws = {
        tuple(bank.sample_texts(None, torch.Generator().manual_seed(s)))
        for s in range(10)
    }
    assert len(draws) > 1


def test_ensemble_texts_class_major():
    bank = ClassTextBank(
        classes=['a', 'b'], templates=['x {}', 'y {}'],
        use_descriptions=False)
    assert bank.ensemble_texts() == ['x a', 'y a', 'x b', 'y b']
    assert bank.ensemble_texts([1]) == ['x b', 'y b']


def test_templates_and_fingerprint():
    assert len(get_templates('imagenet')) == 80
    bank = ClassTextBank(classes=['a'], use_descriptions=False)
    assert bank.templates == get_templates('imagenet')
    same = ClassTextBank(classes=['a'], use_descriptions=False)
    other_t = ClassTextBank(
        classes=['a'], use_descriptions=False, templates=['{}'])
    other_c = ClassTextBank(classes=['b'], use_descriptions=False)
    assert bank.fingerprint == same.fingerprint
    assert len({bank.fingerprint, other_t.fingerprint,
                other_c.fingerprint}) == 3


def test_build_from_config():
    bank = build_class_text_bank(
        dict(classes=['a'], use_descriptions=False, templates=['{}']))
    assert isinstance(bank, ClassTextBank) and bank.names == ['a']
    assert build_class_text_bank(bank) is bank
    assert build_class_text_bank(None) is None
