"""How people's pictures differ from product photos, as random augmentations (Keras ops only).

Fashion-MNIST holds product photos: a solid, shaded item in side profile. People draw outlines
on the canvas, fill them in, upload flat-coloured clip art and line drawings, photograph shoes
at an angle. `PictureStyles` renders a batch of training images in those styles, per image at
random: outlines of the item (1-3 px strokes, with or without inner lines), filled silhouettes,
flat-shaded and posterised versions, contrast and gamma changes, blur and sharpening, thicker
and thinner items; then one affine transform with rotations well beyond a few degrees, mirror
images, shifts and scale changes. Only the training split's own images are used.

Written with `keras.ops` and `keras.random` alone, so the same layer runs inside tf.data under
TensorFlow and on numpy batches under JAX. Labels never change: every style keeps the item.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from fmnist_core.classes import CLASS_NAMES

# Shares of the styles (they sum to 1). "photo" keeps the product photo's shading.
# Half the images stay photos: the model must still read product photos at tutorial level.
STYLE_SHARES = {"photo": 0.50, "outline": 0.20, "silhouette": 0.15, "posterised": 0.15}


def style_shares(photo_share: float = STYLE_SHARES["photo"]) -> dict[str, float]:
    """STYLE_SHARES with the photos' share set to `photo_share`, the drawn styles scaled to
    the rest in the same proportions (a recipe that starts from a network that already reads
    photos can give the styles more of its images)."""
    if not 0.0 <= photo_share < 1.0:
        raise ValueError(f"the share of photos must be in [0, 1), got {photo_share}")
    drawn = 1.0 - STYLE_SHARES["photo"]
    return {
        k: photo_share if k == "photo" else v * (1.0 - photo_share) / drawn
        for k, v in STYLE_SHARES.items()
    }


# With clip-art styles on (PictureStyles(clip_art=True), the "clipart" augmentation), this
# share of the drawn styles' images becomes cartoon clip art, and this share of all images is
# also seen from a three-quarter view (shear and perspective, as icons are often drawn).
CARTOON_SHARE_OF_DRAWN = 0.3
THREE_QUARTER_SHARE, SHEAR, PERSPECTIVE = 0.35, 0.25, 0.012

# With class-aware shapes on (PictureStyles(class_shapes=True), the "shapes" augmentation), this
# share of the coats becomes long coats (the hem carried on below the coat, the sleeves' share
# at either side left out, then the whole reduced to fill the height: the sleeves end at 60-85%
# of the height and the coat is narrower by as much) and of the bags, bags with a strap (the
# bag made smaller at the bottom of the square, a 1-2 px strap from its top corners up: one
# over the top, or a backpack's two). Only a coat's or a bag's own label allows it: labels
# never change. The robust recipe uses it (README, "robust").
COAT, BAG = CLASS_NAMES.index("Coat"), CLASS_NAMES.index("Bag")
CLASS_SHAPE_SHARE = 0.25
LONG_COAT_WIDTH = (0.6, 0.85)  # the coat's own height as a share of the long coat's
HEM_SLEEVE_SHARE = 0.2  # each sleeve's share of the coat's width, left out of the hem
STRAP_RISE = (0.3, 0.7)  # the room made above the bag, as a share of the square


def clip_art_shares(photo_share: float = STYLE_SHARES["photo"]) -> dict[str, float]:
    """style_shares(photo_share) with CARTOON_SHARE_OF_DRAWN of the drawn styles' share moved
    to cartoon clip art (the others keep their proportions)."""
    shares = style_shares(photo_share)
    drawn = 1.0 - shares["photo"]
    out = {k: v if k == "photo" else v * (1.0 - CARTOON_SHARE_OF_DRAWN) for k, v in shares.items()}
    out["cartoon"] = drawn * CARTOON_SHARE_OF_DRAWN
    return out


# A pixel of a Fashion-MNIST image belongs to the item above this value (0-255).
ITEM_LEVEL = 12.0
# Geometry: most images stay near side profile; almost a third are turned far, half are mirrored.
SMALL_TURN_DEGREES, LARGE_TURN_DEGREES, LARGE_TURN_SHARE = 10.0, 45.0, 0.30
FLIP_SHARE = 0.5
# The sampling scale: above 1 the item shrinks (room for a turned item's corners), below 1 it
# grows (cropped a little, as a close-up photo is).
SCALE_RANGE = (0.9, 1.25)
SHIFT = 0.08


def _pool(x, kind: str):
    """3x3 max / min / mean filter (stride 1, same size)."""
    if kind == "max":
        return ops.max_pool(x, 3, strides=1, padding="same")
    if kind == "min":
        return -ops.max_pool(-x, 3, strides=1, padding="same")
    return ops.average_pool(x, 3, strides=1, padding="same")


def _pick(choice, options):
    """Per image, options[choice[i]][i]; choice is (B, 1, 1, 1) int."""
    out = options[-1]
    for k in range(len(options) - 2, -1, -1):
        out = ops.where(ops.equal(choice, k), options[k], out)
    return out


def fill_holes(mask, iterations: int = 28):
    """The mask with every region not reachable from the border filled (8-connected flood)."""
    shape = ops.shape(mask)
    h, w = shape[1], shape[2]
    rows = ops.reshape(ops.arange(h), (1, -1, 1, 1))
    cols = ops.reshape(ops.arange(w), (1, 1, -1, 1))
    border = ops.cast(
        ops.logical_or(
            ops.logical_or(ops.equal(rows, 0), ops.equal(rows, h - 1)),
            ops.logical_or(ops.equal(cols, 0), ops.equal(cols, w - 1)),
        ),
        mask.dtype,
    )
    free = 1.0 - mask
    outside = border * free
    for _ in range(iterations):
        outside = _pool(outside, "max") * free
    return 1.0 - outside


def three_quarter_view(matrix, shear, tilt_x, tilt_y, size: float = 28.0):
    """`matrix` (affine_matrix's) with a horizontal shear and a perspective tilt about the
    image's centre added: the item as if turned a little out of the picture's plane. Inputs
    (B, 1, 1, 1): shear (x moves by shear * y), tilts (a side's scale changes by about
    tilt * size)."""
    c = (size - 1.0) / 2.0
    a0, a1, a2, b0, b1, b2 = (matrix[:, k : k + 1] for k in range(6))
    sh = ops.reshape(shear, (-1, 1))
    a1, a2 = a1 + sh * a0, a2 - sh * a0 * c  # x_in also moves with y about the centre
    c0, c1 = ops.reshape(tilt_x, (-1, 1)), ops.reshape(tilt_y, (-1, 1))
    d = 1.0 - c0 * c - c1 * c  # keeps the centre where it is: the last number must stay 1
    row = [a0, a1, a2, b0, b1, b2]
    a0, a1, a2, b0, b1, b2 = (v / d for v in row)
    return ops.concatenate([a0, a1, a2, b0, b1, b2, c0 / d, c1 / d], axis=1)


def _pixel_grid():
    """Each pixel's row (1, 28, 1, 1) and column (1, 1, 28, 1), as floats."""
    rows = ops.cast(ops.reshape(ops.arange(28), (1, -1, 1, 1)), "float32")
    return rows, ops.cast(ops.reshape(ops.arange(28), (1, 1, -1, 1)), "float32")


def segment_distance(rows, cols, a, b):
    """Each pixel's distance to the segment from a to b, points as (x, y) of (B, 1, 1, 1)
    tensors; `rows` (1, H, 1, 1) and `cols` (1, 1, W, 1) the pixel coordinates."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = ((cols - a[0]) * dx + (rows - a[1]) * dy) / ops.maximum(dx * dx + dy * dy, 1e-6)
    t = ops.clip(t, 0.0, 1.0)
    return ops.sqrt(ops.square(cols - a[0] - t * dx) + ops.square(rows - a[1] - t * dy))


def affine_matrix(angle, scale, shift_x, shift_y, size: float = 28.0):
    """Keras' 8-number transforms (output pixel -> input pixel) turning each image by `angle`
    degrees about its centre, sampling `scale` times as wide and shifting by pixels; inputs
    are (B, 1, 1, 1)."""
    theta = ops.reshape(angle, (-1, 1)) * (3.141592653589793 / 180.0)
    s = ops.reshape(scale, (-1, 1))
    c = (size - 1.0) / 2.0
    a0, a1 = s * ops.cos(theta), -s * ops.sin(theta)
    b0, b1 = s * ops.sin(theta), s * ops.cos(theta)
    a2 = ops.reshape(shift_x, (-1, 1)) + c - c * a0 - c * a1
    b2 = ops.reshape(shift_y, (-1, 1)) + c - c * b0 - c * b1
    zeros = ops.zeros_like(a0)
    return ops.concatenate([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


class PictureStyles(keras.layers.Layer):
    """Random picture styles and a random affine transform for a batch of (B, 28, 28, 1) images
    in 0-255. Active only with training=True; repeatable for a given seed.

    Every random choice for a batch comes from one (B, RANDOM_DRAWS) matrix of uniform numbers:
    drawn from the layer's seed, or passed in as `randomness` by an input pipeline that maps
    batches in parallel (a shared seed state would then depend on the order of the workers).
    """

    RANDOM_DRAWS = 32

    def __init__(
        self,
        seed: int | None = None,
        photo_share: float = STYLE_SHARES["photo"],
        clip_art: bool = False,
        class_shapes: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.seed = seed
        self.photo_share = float(photo_share)
        self.clip_art = bool(clip_art)  # cartoon clip art and three-quarter views too
        # long coats and bags with straps, from the labels; their 8 random numbers come after
        # the styles' 32, so the styles draw the same numbers with or without them
        self.class_shapes = bool(class_shapes)
        self.RANDOM_DRAWS = PictureStyles.RANDOM_DRAWS + (8 if class_shapes else 0)
        self.shares = (clip_art_shares if clip_art else style_shares)(self.photo_share)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._draws: Any = None  # this batch's random numbers (call's `randomness`)
        self._used = 0

    def _uniform(self, batch, low=0.0, high=1.0):
        if self._used >= PictureStyles.RANDOM_DRAWS:
            raise RuntimeError("PictureStyles needs more random draws than RANDOM_DRAWS")
        column = ops.reshape(self._draws[:, self._used], (-1, 1, 1, 1))
        self._used += 1
        return low + (high - low) * column

    def _choice(self, batch, shares):
        u = self._uniform(batch)
        edges = ops.cumsum(ops.convert_to_tensor(shares, "float32"))
        return ops.sum(ops.cast(u[..., None] >= edges[:-1], "int32"), axis=-1)

    def call(self, images, training=True, randomness=None, labels=None):
        """`labels` (B,): only read for the class-aware shapes (never changed)."""
        if not training:
            return images
        x = ops.cast(images, "float32")
        batch = ops.shape(x)[0]
        if randomness is None:
            randomness = keras.random.uniform((batch, self.RANDOM_DRAWS), seed=self.seed_generator)
        self._draws, self._used = ops.cast(randomness, "float32"), 0
        if self.class_shapes and labels is not None:
            x = self._class_shapes(x, labels, self._draws[:, PictureStyles.RANDOM_DRAWS :])
        x = self._thickness(x, batch)
        style = self._choice(batch, list(self.shares.values()))
        renderings = [
            self._tone(x, batch),
            self._outline(x, batch),
            self._silhouette(x, batch),
            self._posterised(x, batch),
        ]
        if self.clip_art:
            renderings.append(self._cartoon(x, batch))
        x = _pick(style, renderings)
        x = self._blur_or_sharpen(x, batch)
        x = self._geometry(x, batch)
        self._draws = None
        return ops.clip(x, 0.0, 255.0)

    # ----------------------------------------------------------------------- the styles

    def _class_shapes(self, x, labels, draws):
        """Long coats and bags with straps (CLASS_SHAPE_SHARE of each), the other items as
        they are; `draws` (B, 8) uniform numbers."""
        u = [ops.reshape(draws[:, k], (-1, 1, 1, 1)) for k in range(8)]
        label = ops.reshape(ops.cast(labels, "int32"), (-1, 1, 1, 1))
        coat = ops.logical_and(ops.equal(label, COAT), u[0] < CLASS_SHAPE_SHARE)
        bag = ops.logical_and(ops.equal(label, BAG), u[1] < CLASS_SHAPE_SHARE)
        long_coats = self._long_coats(
            x, LONG_COAT_WIDTH[0] + (LONG_COAT_WIDTH[1] - LONG_COAT_WIDTH[0]) * u[2]
        )
        rise = STRAP_RISE[0] + (STRAP_RISE[1] - STRAP_RISE[0]) * u[3]
        # output pixel -> input pixel: the bag sampled wider both ways about its bottom row's
        # centre (smaller, room above it)
        a0 = ops.reshape(1.0 + rise, (-1, 1))
        zeros = ops.zeros_like(a0)
        matrix = ops.concatenate(
            [a0, zeros, 13.5 - 13.5 * a0, zeros, a0, 27.0 - 27.0 * a0, zeros, zeros], axis=1
        )
        x = ops.where(coat, long_coats, x)
        smaller = keras.ops.image.affine_transform(
            x, matrix, interpolation="bilinear", fill_mode="constant", fill_value=0.0
        )
        x = ops.where(bag, smaller, x)
        # the strap, from the (smaller) bag's top corners
        top, _, left, right = self._extent(x)
        rows, cols = _pixel_grid()
        a, b = (left + 1.0, top + 0.5), (right - 1.0, top + 0.5)
        peak = (left + (right - left) * (0.3 + 0.4 * u[4]), ops.zeros_like(top) + 0.5)
        over = ops.minimum(
            segment_distance(rows, cols, a, peak), segment_distance(rows, cols, peak, b)
        )
        straps = ops.minimum(
            segment_distance(rows, cols, a, (a[0] + 1.5, peak[1])),
            segment_distance(rows, cols, b, (b[0] - 1.5, peak[1])),
        )
        distance = ops.where(u[5] < 0.5, over, straps)
        half_width = 0.5 + 0.5 * u[6]
        strap = ops.clip(half_width + 0.5 - distance, 0.0, 1.0) * (120.0 + 135.0 * u[7])
        return ops.where(bag, ops.maximum(x, strap), x)

    def _extent(self, x):
        """Each item's top, bottom, left and right pixel (B, 1, 1, 1) each, as floats."""
        item = self._item_mask(x)
        rows_any, cols_any = ops.max(item, axis=(2, 3)), ops.max(item, axis=(1, 3))
        first = lambda v: ops.cast(ops.argmax(v, axis=1), "float32")  # noqa: E731
        top, left = first(rows_any), first(cols_any)
        bottom = 27.0 - first(ops.flip(rows_any, axis=1))
        right = 27.0 - first(ops.flip(cols_any, axis=1))
        return tuple(ops.reshape(v, (-1, 1, 1, 1)) for v in (top, bottom, left, right))

    def _long_coats(self, x, scale):
        """Every item as a long coat: the coat as it is, its hem carried on below it (the
        body's last full row, without the sleeves' share at either side), the whole reduced by
        `scale` (B, 1, 1, 1) about the top middle so that it fills the height again. The
        sleeves then end at `scale` of the height, as a long coat's do, and the coat is
        narrower by the same factor."""
        top, bottom, left, right = self._extent(x)
        rows, cols = _pixel_grid()
        sleeve = HEM_SLEEVE_SHARE * (right - left + 1.0)
        middle = lambda c: ops.logical_and(c > left + sleeve, c < right - sleeve)  # noqa: E731
        # the hem: the body's last full row (one above its faint bottom edge)
        body_rows = ops.max(self._item_mask(x) * ops.cast(middle(cols), "float32"), axis=(2, 3))
        body_bottom = 27.0 - ops.cast(ops.argmax(ops.flip(body_rows, axis=1), axis=1), "float32")
        k = ops.reshape(1.0 / scale, (-1, 1))
        top2 = ops.reshape(top, (-1, 1))
        hem_row = ops.maximum(ops.reshape(body_bottom, (-1, 1)) - 1.0, top2)
        zeros = ops.zeros_like(k)
        across = [k, zeros, 13.5 - 13.5 * k]
        coat = keras.ops.image.affine_transform(
            x, ops.concatenate(across + [zeros, k, top2 - top2 * k, zeros, zeros], axis=1),
            interpolation="bilinear", fill_mode="constant", fill_value=0.0,
        )  # fmt: skip
        hem = keras.ops.image.affine_transform(
            x, ops.concatenate(across + [zeros, zeros, hem_row, zeros, zeros], axis=1),
            interpolation="bilinear", fill_mode="constant", fill_value=0.0,
        )  # fmt: skip
        source_row = top + (rows - top) / scale
        below = source_row > ops.reshape(hem_row, (-1, 1, 1, 1)) + 0.5
        body = middle(13.5 + (cols - 13.5) / scale)
        return ops.where(below, ops.where(body, hem, 0.0), coat)

    def _thickness(self, x, batch):
        """A quarter of the items thicker (dilated) or thinner (eroded) by one pixel."""
        which = self._choice(batch, [0.75, 0.125, 0.125])
        return _pick(which, [x, _pool(x, "max"), _pool(x, "min")])

    def _tone(self, x, batch):
        """Gamma 0.5-2 and a contrast scale 0.6-1.0: light, dark and washed-out photos."""
        gamma = ops.exp(self._uniform(batch, -0.7, 0.7))
        contrast = self._uniform(batch, 0.6, 1.0)
        peak = ops.maximum(ops.max(x, axis=(1, 2, 3), keepdims=True), 1.0)
        return 255.0 * contrast * ops.power(x / peak, gamma)

    def _item_mask(self, x):
        return ops.cast(x > ITEM_LEVEL, "float32")

    def _edges(self, x, batch):
        """The item's outline at 1-3 px, and its inner lines (the brightness's steep edges).
        (Called by two styles; each call draws its own width and level.)"""
        filled = fill_holes(self._item_mask(x))
        inner = filled
        eroded = []
        for _ in range(3):
            inner = _pool(inner, "min")
            eroded.append(inner)
        width = self._choice(batch, [0.4, 0.4, 0.2])
        outline = filled - _pick(width, eroded)
        gradient = _pool(x, "max") - _pool(x, "min")
        level = self._uniform(batch, 50.0, 110.0)
        with_inner = ops.cast(self._uniform(batch) < 0.5, "float32")
        lines = ops.cast(gradient > level, "float32") * filled * with_inner
        return filled, ops.maximum(outline, lines)

    def _outline(self, x, batch):
        """A line drawing: light strokes on black."""
        _, edges = self._edges(x, batch)
        ink = self._uniform(batch, 110.0, 255.0)
        return edges * ink

    def _silhouette(self, x, batch):
        """A flat-filled item, sometimes with its outline and inner lines in another shade
        (clip art: a flat colour with a dark outline, inverted)."""
        filled, edges = self._edges(x, batch)
        fill = self._uniform(batch, 70.0, 255.0)
        line = self._uniform(batch, 70.0, 255.0)
        outlined = ops.cast(self._uniform(batch) < 0.5, "float32")
        flat = filled * fill
        return ops.where(ops.logical_and(edges > 0, outlined > 0), line, flat)

    def _posterised(self, x, batch):
        """Two to four flat shades, as in flat-shaded icons."""
        levels = ops.floor(self._uniform(batch, 2.0, 5.0))
        q = ops.floor(x / 256.0 * levels)
        floor_level = self._uniform(batch, 60.0, 140.0)
        shade = floor_level + (255.0 - floor_level) * q / ops.maximum(levels - 1.0, 1.0)
        return shade * self._item_mask(x)

    def _cartoon(self, x, batch):
        """Cartoon clip art as the app sees it once inverted: the item in 2-4 flat fills of
        its own shading, bright lines around it and between its fills (the dark outlines of
        clip art on white)."""
        filled = fill_holes(self._item_mask(x))
        levels = ops.floor(self._uniform(batch, 2.0, 5.0))
        q = ops.floor(x / 256.0 * levels) * filled
        low = self._uniform(batch, 40.0, 150.0)
        fills = (low + (200.0 - low) * q / ops.maximum(levels - 1.0, 1.0)) * filled
        outline = filled - _pool(filled, "min")
        steps = ops.cast(_pool(q, "max") > _pool(q, "min"), "float32") * filled
        lines = ops.maximum(outline, steps)
        ink = self._uniform(batch, 170.0, 255.0)
        return ops.where(lines > 0, ink, fills)

    def _blur_or_sharpen(self, x, batch):
        which = self._choice(batch, [0.8, 0.1, 0.1])
        blur = _pool(x, "mean")
        sharp = x + self._uniform(batch, 0.5, 1.5) * (x - blur)
        return _pick(which, [x, blur, sharp])

    def _geometry(self, x, batch):
        """Mirror half, then one rotation / scale / shift per image (a single resampling)."""
        flip = self._uniform(batch) < FLIP_SHARE
        x = ops.where(flip, ops.flip(x, axis=2), x)
        large = ops.cast(self._uniform(batch) < LARGE_TURN_SHARE, "float32")
        limit = SMALL_TURN_DEGREES + (LARGE_TURN_DEGREES - SMALL_TURN_DEGREES) * large
        angle = self._uniform(batch, -1.0, 1.0) * limit
        scale = self._uniform(batch, *SCALE_RANGE)
        shift_x = self._uniform(batch, -SHIFT, SHIFT) * 28.0
        shift_y = self._uniform(batch, -SHIFT, SHIFT) * 28.0
        matrix = affine_matrix(angle, scale, shift_x, shift_y)
        if self.clip_art:  # some seen from a three-quarter view: sheared, one side nearer
            turned = ops.cast(self._uniform(batch) < THREE_QUARTER_SHARE, "float32")
            shear = self._uniform(batch, -SHEAR, SHEAR) * turned
            tilt = self._uniform(batch, -PERSPECTIVE, PERSPECTIVE) * turned
            matrix = three_quarter_view(matrix, shear, tilt, ops.zeros_like(tilt))
        return keras.ops.image.affine_transform(
            x, matrix, interpolation="bilinear", fill_mode="constant", fill_value=0.0
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "photo_share": self.photo_share,
                "clip_art": self.clip_art, "class_shapes": self.class_shapes}  # fmt: skip


def styled_examples(images, seed: int = 0, copies: int = 1, clip_art: bool = False):
    """Training images (N, 28, 28) uint8 as the robust model saw them: `copies` random
    renderings of each, (N * copies, 28, 28) uint8, the same for the same seed."""
    x = np.repeat(np.asarray(images, dtype=np.float32)[..., None], copies, axis=0)
    out = np.asarray(PictureStyles(seed=seed, clip_art=clip_art)(x, training=True))
    return np.clip(np.round(out[..., 0]), 0, 255).astype(np.uint8)


class CropFlipErase(keras.layers.Layer):
    """The standard recipe for residual networks on small images: a random crop of the image
    padded by `pad` pixels (a shift of up to `pad` pixels, zeros coming in), a mirror image
    for half, and random erasing (a rectangle of 2-25% of the image, aspect 0.3-3.3, filled
    with one random grey) for `erase_share` of the images. Same random-draw interface as
    PictureStyles, so both input pipelines map it per batch with a per-batch key."""

    RANDOM_DRAWS = 9

    def __init__(self, seed: int | None = None, pad: int = 4, erase_share: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.seed, self.pad, self.erase_share = seed, pad, erase_share
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True, randomness=None, labels=None):
        """`labels` is not read (PictureStyles' interface)."""
        if not training:
            return images
        x = ops.cast(images, "float32")
        batch, h, w = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        if randomness is None:
            randomness = keras.random.uniform((batch, self.RANDOM_DRAWS), seed=self.seed_generator)
        u = [ops.reshape(randomness[:, k], (-1, 1, 1, 1)) for k in range(self.RANDOM_DRAWS)]
        # crop: a whole-pixel shift in [-pad, pad], nearest sampling, so no pixel is blurred
        span = 2.0 * self.pad + 1.0
        shift_x = ops.floor(u[0] * span) - self.pad
        shift_y = ops.floor(u[1] * span) - self.pad
        one, zero = ops.ones_like(shift_x), ops.zeros_like(shift_x)
        matrix = affine_matrix(zero, one, shift_x, shift_y, size=float(x.shape[1] or 28))
        x = keras.ops.image.affine_transform(
            x, matrix, interpolation="nearest", fill_mode="constant", fill_value=0.0
        )
        x = ops.where(u[2] < 0.5, ops.flip(x, axis=2), x)
        # random erasing
        area = (0.02 + 0.23 * u[3]) * ops.cast(h * w, "float32")
        aspect = ops.exp(ops.log(0.3) + (ops.log(3.3) - ops.log(0.3)) * u[4])
        eh = ops.minimum(ops.sqrt(area * aspect), ops.cast(h, "float32"))
        ew = ops.minimum(ops.sqrt(area / aspect), ops.cast(w, "float32"))
        top = u[5] * (ops.cast(h, "float32") - eh)
        left = u[6] * (ops.cast(w, "float32") - ew)
        rows = ops.cast(ops.reshape(ops.arange(h), (1, -1, 1, 1)), "float32")
        cols = ops.cast(ops.reshape(ops.arange(w), (1, 1, -1, 1)), "float32")
        inside = (rows >= top) & (rows < top + eh) & (cols >= left) & (cols < left + ew)
        erase = inside & (u[7] < self.erase_share)
        return ops.where(erase, 255.0 * u[8], x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "pad": self.pad,
                "erase_share": self.erase_share}  # fmt: skip
