"""The article's CNN on the real MNIST files, trained on 5,000 images, tested on 1,000.

Measured here (numpy backend, seed 0; seeds 1 and 2 in brackets), with
``python -m pytest -q tests/test_train_mnist.py`` and the same fit call in a script:
after epoch 1 val_acc 0.883 (0.903, 0.881), after epoch 2 0.907 (0.924, 0.921).
One epoch (79 steps) lands just under 90%, so the 90% bar is checked after the
second epoch and the first gets a looser bar.  (On all 60,000 images, one epoch
gives 0.9779 on the 10,000 test images, the article's 0.9772.)
"""
from minidl import models, optim
from minidl.data import load_dataset
from minidl.train import evaluate, fit


def test_mnist_cnn_on_5000_images(mnist_path):
    train = load_dataset("mnist", "train", data_dir=mnist_path, download=False, progress=False).subset(5000)
    test = load_dataset("mnist", "test", data_dir=mnist_path, download=False, progress=False).subset(1000)
    model = models.mnist_cnn(seed=0)
    opt = optim.create("adam", model.parameters())                 # Keras defaults: lr 1e-3, eps 1e-7
    history = fit(model, opt, train, test, epochs=2, batch_size=64, seed=0, verbose=0)
    assert history.steps_per_epoch == [79, 79]                      # ceil(5000 / 64)
    assert history.val_acc[0] >= 0.85, history                      # measured 0.883
    assert history.val_acc[1] >= 0.90, history                      # measured 0.907
    assert history.train_loss[1] < history.train_loss[0] < 1.0
    result = evaluate(model, test)
    assert result.accuracy == history.val_acc[1] and result.loss == history.val_loss[1]
