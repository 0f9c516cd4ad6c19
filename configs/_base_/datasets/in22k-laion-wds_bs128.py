# ImageNet-22K + LAION-scale image-text data as webdataset shards
# (img2dataset / OpenCLIP layout: key.jpg + key.txt/key.json per sample),
# streamed and resampled: shards are drawn with replacement with an
# independent stream per rank and worker; an epoch is `epoch_samples`
# samples. Several shard sets mix by weight (per sample).
#   _base_ = ['../_base_/datasets/in22k-laion-wds_bs128.py', ...]
# For "every sample exactly once per epoch" set resampled=False (shards are
# then dealt to ranks and workers; have at least ranks x workers shards).
_base_ = './in22k-laion_bs128.py'

train_dataloader = dict(
    itc=dict(
        batch_size=128,
        num_workers=8,
        persistent_workers=True,
        sampler=None,  # shards are split across ranks/workers instead
        dataset=dict(
            _delete_=True,
            type='WebImageTextDataset',
            data_root='data',
            sources=[
                dict(
                    name='laion400m',
                    urls='laion400m/{00000..41407}.tar',
                    weight=4.0),
                dict(name='cc12m', urls='cc12m/{00000..01242}.tar',
                     weight=1.0),
            ],
            image_ext='jpg;jpeg;png;webp',
            caption_ext='txt;json',
            resampled=True,
            epoch_samples=400_000_000,
            shuffle_buffer=5000,
            shuffle_initial=1000,
            pipeline={{_base_.itc_pipeline}})))
