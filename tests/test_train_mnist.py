"""The article's CNN on the real MNIST files: one epoch on 5,000 images, tested on 1,000.

Measured here (numpy backend, Adam with Keras defaults, 1,000 test images,
``python -m pytest -q tests/test_train_mnist.py`` and the same fit call in a script):

* batch 16 (313 steps): val_acc 0.911 for seed 0 (seeds 1, 2: 0.911, 0.908);
* batch 32 (157 steps): 0.901 (0.897, 0.903);
* batch 64 (79 steps):  0.883 (0.903, 0.881), and 0.907 after a second epoch.

At the article's batch 64 one epoch of 5,000 images is only 79 steps, which lands
just under 90%, so the one-epoch 90% bar is checked at batch 16 and the article's
batch 64 gets a second epoch.  (On all 60,000 images one epoch at batch 64 gave
0.9779 on the 10,000 test images; the article reports 0.9772.)
"""
from minidl import models, optim
from minidl.data import load_dataset
from minidl.train import evaluate, fit


def _data(mnist_path):
    train = load_dataset("mnist", "train", data_dir=mnist_path, download=False, progress=False).subset(5000)
    test = load_dataset("mnist", "test", data_dir=mnist_path, download=False, progress=False).subset(1000)
    return train, test


def test_one_epoch_on_5000_images_reaches_90_percent(mnist_path):
    train, test = _data(mnist_path)
    model = models.mnist_cnn(seed=0)
    opt = optim.create("adam", model.parameters())                 # Keras defaults: lr 1e-3, eps 1e-7
    history = fit(model, opt, train, test, epochs=1, batch_size=16, seed=0, verbose=0)
    assert history.steps_per_epoch == [313]                         # ceil(5000 / 16)
    assert history.val_acc[0] >= 0.90, history                      # measured 0.911
    result = evaluate(model, test)
    assert result.accuracy == history.val_acc[0] and result.loss == history.val_loss[0]


def test_article_batch_64_two_epochs(mnist_path):
    train, test = _data(mnist_path)
    model = models.mnist_cnn(seed=0)
    opt = optim.create("adam", model.parameters())
    history = fit(model, opt, train, test, epochs=2, batch_size=64, seed=0, verbose=0)
    assert history.steps_per_epoch == [79, 79]                      # ceil(5000 / 64)
    assert history.val_acc[0] >= 0.85, history                      # measured 0.883
    assert history.val_acc[1] >= 0.90, history                      # measured 0.907
    assert history.train_loss[1] < history.train_loss[0] < 1.0
