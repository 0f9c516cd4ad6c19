"""One reader of timm's WordNet files serves every caller."""
import csv
import pkgutil

from icar_mm.class_texts import (benchmark_class_texts, gloss_of_name,
                                 imagenet_class_texts, imagenet_synsets)
from icar_mm.class_texts.wordnet import synset_glosses, synset_lemmas


def _rows(name):
    data = pkgutil.get_data('timm.data', f'_info/{name}').decode('utf-8')
    return list(csv.reader(data.splitlines(), delimiter='\t'))


def test_reader_equals_the_files():
    lemmas, glosses = synset_lemmas(), synset_glosses()
    raw_lemmas = _rows('imagenet_synset_to_lemma.txt')
    raw_glosses = _rows('imagenet_synset_to_definition.txt')
    assert len(lemmas) == len(raw_lemmas) >= 21_841
    for synset, names in raw_lemmas[::997]:
        assert lemmas[synset] == [n.strip() for n in names.split(',')]
    for synset, gloss in raw_glosses[::997]:
        assert glosses[synset] == gloss.strip()
    assert len(imagenet_synsets('imagenet-1k')) == 1000
    assert len(imagenet_synsets('imagenet-22k')) == 21_841
    assert imagenet_synsets('imagenet-1k')[0] == 'n01440764'


def test_callers_agree():
    """The ImageNet source, benchmark descriptions and name lookup read the
    same glosses."""
    tench = imagenet_class_texts('imagenet-1k')[0]
    assert tench['synset'] == 'n01440764' and tench['name'] == 'tench'
    assert tench['description'] == synset_glosses()['n01440764']
    by_index = benchmark_class_texts(['tench'], 'wordnet', imagenet=True)
    by_name = benchmark_class_texts(['tench'], 'wordnet')
    assert by_index[0]['description'] == tench['description']
    assert by_name[0]['description'] == gloss_of_name('Tench') == \
        tench['description']
    assert gloss_of_name('no such lemma xyz') is None
