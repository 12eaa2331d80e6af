"""An embedded digit data set that needs no file and no network ("synthetic").

How it is made (all vectorised numpy, deterministic from one seed):

1. **Glyphs.**  Each digit 0-9 is a skeleton of strokes (line segments and circular arcs)
   in a unit box about 1.3 units high, drawn by hand in :data:`_GLYPHS`.  Each skeleton is
   resampled into ``_POINTS`` = 96 points spaced evenly along its total length, so a class
   is a fixed (96, 2) array of points plus the spacing between them.
2. **Per-image variation**, drawn from ``numpy.random.default_rng(seed)``:
   a smooth wobble of the skeleton (two random sine displacement fields, about 0.04 units),
   then a random affine map: rotation (+-18 degrees), scale (11.5 to 15 pixels per unit,
   so digits are 15 to 20 pixels tall like MNIST's), width aspect (0.75 to 1.2), shear
   (+-0.35) and translation (+-2.5 pixels) about the centre of the 28 x 28 image.
3. **Rendering.**  Each skeleton point becomes an isotropic Gaussian blob whose width
   sigma (0.7 to 1.5 pixels) sets the stroke width.  A 2-D Gaussian is the product of two
   1-D ones, so the ink of a whole image is one small matrix product,
   ``ink[i, j] = sum_p gy[p, i] * gx[p, j]``, done for a chunk of images at once with
   ``matmul``.  Blobs are weighted by point spacing / (sqrt(2 pi) sigma), which makes the
   summed ink about 1 along a stroke whatever the glyph's length; ``1 - exp(-2.5 ink)``
   saturates it like a pen.
4. **Noise.**  A random contrast (0.6 to 1), a faint random background level, Gaussian
   pixel noise (standard deviation 0.02 to 0.12) and a few speckles (0.5% of the pixels
   set to random bright values) are added; the result is clipped and stored as uint8.

Labels are balanced in expectation (drawn uniformly).  The default sizes are 10,000
training and 2,000 test images; train and test come from different seeds, so the test
set is held out.  Sets are cached in memory per process (keyed by size and seed) and
returned read-only.

Hard enough for optimizers to differ: classes such as 3/5/8/9 and 1/7 overlap under the
random affine maps, wobble, stroke width and noise, so a linear model does clearly worse
than a small CNN; yet it is learnable in seconds.
"""
from __future__ import annotations

import math

from minidl import backend as B

np = B.np

__all__ = ["synthetic_digits", "SIZE", "NUM_CLASSES", "DEFAULT_SIZES", "DEFAULT_SEEDS", "GENERATOR_VERSION"]

#: Raised whenever a change to the generator changes the images it makes for a seed, so a
#: run's recorded fingerprint says which images it saw.
GENERATOR_VERSION = 1

SIZE = 28
NUM_CLASSES = 10
DEFAULT_SIZES = {"train": 10_000, "test": 2_000}
DEFAULT_SEEDS = {"train": 0, "test": 1}
_POINTS = 96
_CHUNK = 2048


def _arc(cx, cy, r, start_deg, end_deg, n=24, ry=None):
    """Vertices of a circular (or elliptic, with ``ry``) arc; angles in degrees, y pointing down."""
    t = np.radians(np.linspace(start_deg, end_deg, n))
    return np.stack([cx + r * np.cos(t), cy + (r if ry is None else ry) * np.sin(t)], axis=1)


def _line(*points):
    return np.asarray(points, dtype=np.float64)


# Each glyph: a list of strokes, each an (n, 2) array of vertices (x right, y down), unit box.
_GLYPHS = {
    0: [_arc(0.0, 0.0, 0.36, -90, 270, 40, ry=0.6)],
    1: [_line((-0.16, -0.42), (0.04, -0.62), (0.04, 0.62))],
    2: [np.concatenate([_arc(0.0, -0.3, 0.3, -165, 25, 20), _line((-0.34, 0.6), (0.38, 0.6))])],
    3: [np.concatenate([_arc(0.0, -0.33, 0.27, -160, 90, 20), _arc(0.0, 0.28, 0.32, -90, 155, 20)])],
    4: [_line((0.14, -0.62), (-0.36, 0.22), (0.4, 0.22)), _line((0.16, -0.2), (0.16, 0.62))],
    5: [np.concatenate([_line((0.34, -0.6), (-0.26, -0.6), (-0.3, -0.08)),
                        _arc(0.0, 0.25, 0.34, -125, 150, 20)])],
    6: [np.concatenate([_line((0.24, -0.62), (-0.06, -0.36), (-0.26, -0.04)),
                        _arc(0.0, 0.3, 0.3, 180, 540, 30)])],
    7: [_line((-0.36, -0.6), (0.36, -0.6), (-0.08, 0.62))],
    8: [_arc(0.0, -0.32, 0.25, 90, 450, 28), _arc(0.0, 0.3, 0.31, -90, 270, 32)],
    9: [_arc(0.0, -0.3, 0.29, 0, 360, 30), _line((0.29, -0.3), (0.24, 0.2), (0.1, 0.62))],
}


def _resample(strokes, n):
    """``n`` points spaced evenly along the strokes' total length; returns (points, spacing)."""
    segments = [(a, b) for s in strokes for a, b in zip(s[:-1], s[1:])]
    starts = np.array([a for a, _ in segments])
    vecs = np.array([b - a for a, b in segments])
    lengths = np.linalg.norm(vecs, axis=1)
    total = lengths.sum()
    spacing = total / n
    at = (np.arange(n) + 0.5) * spacing  # arc-length position of each point
    ends = np.cumsum(lengths)
    seg = np.minimum(np.searchsorted(ends, at), len(segments) - 1)
    frac = (at - (ends[seg] - lengths[seg])) / lengths[seg]
    return starts[seg] + frac[:, None] * vecs[seg], spacing


def _glyph_tables():
    pts, spacing = zip(*(_resample(_GLYPHS[c], _POINTS) for c in range(NUM_CLASSES)))
    return np.stack(pts), np.array(spacing)  # (10, P, 2), (10,)


_TABLES = None
_CACHE = {}


def _render(labels, rng):
    """Images (n, 28, 28) float32 in [0, 1] for the class ``labels``, from ``rng``."""
    global _TABLES
    if _TABLES is None:
        _TABLES = _glyph_tables()
    glyph_pts, glyph_spacing = _TABLES
    n = labels.shape[0]
    f32 = np.float32

    # 1. skeleton with a smooth wobble: two random sine fields, amplitude ~0.04 units
    pts = glyph_pts[labels]  # (n, P, 2)
    for _ in range(2):
        freq = rng.normal(0.0, 3.0, size=(n, 1, 2))
        phase = rng.uniform(0.0, 2 * math.pi, size=(n, 1, 1))
        amp = rng.normal(0.0, 0.04, size=(n, 1, 2))
        pts = pts + amp * np.sin((pts * freq).sum(-1, keepdims=True) + phase)

    # 2. random affine map to pixel coordinates
    angle = np.radians(rng.uniform(-18.0, 18.0, n))
    scale = rng.uniform(11.5, 15.0, n)
    aspect = rng.uniform(0.75, 1.2, n)
    shear = rng.uniform(-0.35, 0.35, n)
    shift = rng.uniform(-2.5, 2.5, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    # A = R(angle) @ [[1, shear], [0, 1]] @ diag(scale * aspect, scale)
    sx, sy = scale * aspect, scale
    a = np.empty((n, 2, 2))
    a[:, 0, 0] = cos * sx
    a[:, 0, 1] = (cos * shear - sin) * sy
    a[:, 1, 0] = sin * sx
    a[:, 1, 1] = (sin * shear + cos) * sy
    centre = (SIZE - 1) / 2.0
    xy = np.einsum("nij,npj->npi", a, pts) + centre + shift[:, None, :]

    # 3. Gaussian blobs; the 2-D Gaussian factorises, so ink = gy^T @ gx per image
    sigma = rng.uniform(0.7, 1.5, n)
    grid = np.arange(SIZE, dtype=np.float64)
    inv = (-0.5 / sigma**2)[:, None, None]
    gx = np.exp(inv * (xy[..., 0:1] - grid) ** 2).astype(f32)  # (n, P, 28)
    gy = np.exp(inv * (xy[..., 1:2] - grid) ** 2).astype(f32)
    weight = glyph_spacing[labels] * scale / (math.sqrt(2 * math.pi) * sigma)  # (n,)
    gy *= weight.astype(f32)[:, None, None]
    ink = np.matmul(gy.transpose(0, 2, 1), gx)  # (n, 28, 28): rows y, columns x
    img = 1.0 - np.exp(-2.5 * ink)

    # 4. contrast, background, pixel noise and speckles
    img *= rng.uniform(0.6, 1.0, (n, 1, 1)).astype(f32)
    img += rng.uniform(0.0, 0.08, (n, 1, 1)).astype(f32)
    img += rng.standard_normal((n, SIZE, SIZE), dtype=f32) * rng.uniform(0.02, 0.12, (n, 1, 1)).astype(f32)
    speckle = rng.random((n, SIZE, SIZE), dtype=f32) < 0.005
    img[speckle] = rng.uniform(0.3, 1.0, int(speckle.sum())).astype(f32)
    return np.clip(img, 0.0, 1.0, out=img)


def synthetic_digits(n: int = 10_000, seed: int = 0):
    """``(images, labels)``: uint8 ``(n, 28, 28)`` and int64 ``(n,)``, deterministic in ``seed``.

    The arrays are cached per process and read-only; copy them to modify.

    >>> x, y = synthetic_digits(100, seed=0)
    >>> x.shape, x.dtype.name, y.shape, int(y.max()) <= 9
    ((100, 28, 28), 'uint8', (100,), True)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"synthetic_digits: n must be a positive int, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"synthetic_digits: seed must be an int >= 0, got {seed!r}")
    key = (int(n), int(seed))
    if key in _CACHE:
        return _CACHE[key]
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, size=int(n)).astype(np.int64)
    images = np.empty((int(n), SIZE, SIZE), dtype=np.uint8)
    for start in range(0, int(n), _CHUNK):  # chunks bound the (chunk, P, 28) temporaries
        stop = min(start + _CHUNK, int(n))
        img = _render(labels[start:stop], rng)
        np.rint(img * 255.0, out=img)
        images[start:stop] = img
    images.flags.writeable = False
    labels.flags.writeable = False
    _CACHE[key] = (images, labels)
    return images, labels
