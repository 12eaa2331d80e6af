"""The article's numbers: its comparison table (Keras, MNIST, its own machine).

``ARTICLE[label][epoch] = (val accuracy, val loss)`` at epochs 1, 5 and 10, and
``ARTICLE[label]["time"]`` its total time in seconds.
"""

ARTICLE = {
    "Adadelta": {1: (0.4612, 2.2474), 5: (0.7776, 1.6943), 10: (0.8375, 0.9026), "time": 8 * 60 + 2},
    "Adagrad": {1: (0.8411, 0.7804), 5: (0.9133, 0.3194), 10: (0.9286, 0.2519), "time": 7 * 60 + 33},
    "Adam": {1: (0.9772, 0.0701), 5: (0.9884, 0.0344), 10: (0.9908, 0.0297), "time": 7 * 60 + 20},
    "RMSprop": {1: (0.9783, 0.0712), 5: (0.9846, 0.0484), 10: (0.9857, 0.0501), "time": 10 * 60 + 1},
    "SGD with momentum": {1: (0.9168, 0.2929), 5: (0.9585, 0.1421), 10: (0.9697, 0.1008), "time": 7 * 60 + 4},
    "SGD": {1: (0.9124, 0.3157), 5: (0.9569, 0.1451), 10: (0.9693, 0.1040), "time": 6 * 60 + 42},
}
