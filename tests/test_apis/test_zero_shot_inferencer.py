"""Zero-shot inferencer and the demo CLI on a tiny demo-config model."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

import icar_mm  # noqa: F401
from icar_mm.apis import ZeroShotInferencer, init_model, parse_texts

from repo_paths import REPO_ROOT as REPO, load_tool  # noqa: E402
DEMO = osp.join(REPO,
                'configs/icar/icar_resnet18-minilm_1xb64_synthetic-world.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp('inferencer')
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict({'model.backbone.base_channels': 16,
                         'model.backbone.stem_channels': 16,
                         'model.feat_channels': 128})
    cfg_path = str(work / 'cfg.py')
    cfg.dump(cfg_path)
    torch.manual_seed(0)
    model = init_model(cfg_path)
    ckpt = str(work / 'model.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    yield cfg_path, ckpt, model, work
    torch.set_num_threads(threads)


def test_ranks_paths_arrays_and_batches(checkpoint):
    import cv2
    cfg_path, ckpt, model, work = checkpoint
    rng = np.random.default_rng(0)
    imgs = [(rng.random((32, 32, 3)) * 255).astype(np.uint8)
            for _ in range(3)]
    path = str(work / 'img.jpg')
    cv2.imwrite(path, imgs[0])
    inferencer = ZeroShotInferencer(cfg_path, ckpt, templates='identity')
    classes = parse_texts('red circle . blue square . a green star')
    assert classes == ['red circle', 'blue square', 'a green star']
    out = inferencer(path, classes=classes, topk=3)
    assert len(out) == 1 and len(out[0]['ranking']) == 3
    scores = [r['score'] for r in out[0]['ranking']]
    assert scores == sorted(scores, reverse=True)
    assert out[0]['pred_class'] == out[0]['ranking'][0]['class_name']
    assert out[0]['pred_scores'].sum() == pytest.approx(1, abs=1e-5)
    batch = inferencer(imgs, classes=classes, batch_size=2)
    single = inferencer(imgs[1], classes=classes)
    assert len(batch) == 3
    np.testing.assert_allclose(batch[1]['pred_scores'],
                               single[0]['pred_scores'], atol=1e-5)
    # the same numbers as ICAR.classify on the same embedding
    from icar_mm.class_texts import ClassTextBank
    bank = ClassTextBank(classes=classes, templates='identity',
                         use_descriptions=False)
    x = (torch.tensor(imgs[1][..., ::-1].copy()).permute(2, 0, 1)[None]
         .float() - 127.5) / 127.5
    with torch.no_grad():
        ref = inferencer.model.classify(
            inferencer.model.visual_proj(inferencer.model.extract_feat(x)),
            None, bank)[0].pred_score.numpy()
    np.testing.assert_allclose(single[0]['pred_scores'], ref, atol=1e-5)
    # descriptions are used when every class has one
    described = [dict(name='cat', description='a small feline'),
                 dict(name='dog', description='a domestic canine')]
    vis_dir = str(work / 'vis')
    out = inferencer(path, classes=described, show_dir=vis_dir)
    assert inferencer.vocabulary(described, 'identity').use_descriptions
    assert osp.getsize(out[0]['visualization']) > 0


def test_demo_cli(checkpoint, capsys):
    cfg_path, ckpt, _, work = checkpoint
    demo = load_tool('tools/demo/zero_shot.py')
    import matplotlib.cbook
    image = matplotlib.cbook.get_sample_data('grace_hopper.jpg',
                                           asfileobj=False)
    out_file = str(work / 'demo.png')
    ranking = demo.main([image, cfg_path, ckpt, '--texts',
                         'cat . dog . a red car', '--image-size', '32',
                         '--out-file', out_file])
    printed = capsys.readouterr().out
    assert [r['class_name'] for r in ranking] and len(ranking) == 3
    assert '1. ' + ranking[0]['class_name'] in printed
    assert osp.getsize(out_file) > 0


def test_demo_cli_names_an_empty_texts_flag(capsys):
    demo = load_tool('tools/demo/zero_shot.py')
    with pytest.raises(SystemExit):
        demo.main(['img.jpg', 'cfg.py', 'ckpt.pth', '--texts', ' . '])
    assert '--texts' in capsys.readouterr().err
