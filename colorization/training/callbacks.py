"""Callbacks for training colorization models: sample colourisations each epoch."""

import os

import keras
import numpy as np

from colorization.color import l_ab_to_rgb_uint8
from colorization.constants import ZHANG_TEMPERATURE
from colorization.layers import AnnealedMean


def _take_samples(samples, max_images):
    """`(L, ab)` NumPy arrays of at most `max_images` images, from arrays or batches."""
    if (
        isinstance(samples, (tuple, list))
        and len(samples) == 2
        and len(getattr(samples[0], "shape", ())) == 4
    ):
        L, ab = (np.asarray(keras.ops.convert_to_numpy(t)) for t in samples)
        return L[:max_images].astype("float32"), ab[:max_images].astype("float32")
    Ls, abs_ = [], []
    count = 0
    for batch in samples:
        L, ab = (np.asarray(keras.ops.convert_to_numpy(t)) for t in batch[:2])
        Ls.append(L)
        abs_.append(ab)
        count += len(L)
        if count >= max_images:
            break
    if not Ls:
        raise ValueError("SampleColorizationLogger received no (L, ab) samples.")
    return np.concatenate(Ls)[:max_images].astype("float32"), np.concatenate(abs_)[
        :max_images
    ].astype("float32")


class SampleColorizationLogger(keras.callbacks.Callback):
    """Logs grey | prediction | truth grids of a few images at the end of epochs.

    Writes `output_dir/epoch_XXXX.png` and/or a TensorBoard image `samples` (needs TensorFlow).

    Args:
        samples: `(L, ab)` arrays `(N, H, W, 1)` and `(N, H, W, 2)`, or an iterable of such batches.
        output_dir, tensorboard_dir: folders for the PNG files and TensorBoard summaries, or `None`.
        every_n_epochs: log every n-th epoch (and always the last).
        max_images: at most this many images (rows).
        temperature: annealed-mean temperature for classification outputs.
        bins: `(Q, 2)` bin centres for classification outputs; `None` for Zhang's 313.

    Example:
    >>> import numpy as np, tempfile
    >>> L = np.full((2, 32, 32, 1), 50.0, "float32"); ab = np.zeros((2, 32, 32, 2), "float32")
    >>> logger = SampleColorizationLogger((L, ab), output_dir=tempfile.mkdtemp())
    >>> logger.grid(ab).shape  # 2 rows of grey | prediction | truth
    (64, 96, 3)
    """

    def __init__(
        self,
        samples,
        output_dir=None,
        tensorboard_dir=None,
        every_n_epochs=1,
        max_images=4,
        temperature=ZHANG_TEMPERATURE,
        bins=None,
    ):
        super().__init__()
        if output_dir is None and tensorboard_dir is None:
            raise ValueError(
                "SampleColorizationLogger needs an output_dir, a tensorboard_dir, or both."
            )
        if every_n_epochs < 1:
            raise ValueError(
                f"every_n_epochs must be positive. Received: every_n_epochs={every_n_epochs}"
            )
        self.L, self.ab = _take_samples(samples, max_images)
        if self.L.ndim != 4 or self.L.shape[-1] != 1 or self.ab.shape != self.L.shape[:-1] + (2,):
            raise ValueError(
                "samples must be L (N, H, W, 1) and ab (N, H, W, 2). "
                f"Received: L shape {self.L.shape}, ab shape {self.ab.shape}"
            )
        self.output_dir = None if output_dir is None else os.fspath(output_dir)
        self.tensorboard_dir = None if tensorboard_dir is None else os.fspath(tensorboard_dir)
        self.every_n_epochs = int(every_n_epochs)
        self.annealed_mean = AnnealedMean(temperature=temperature, bins=bins)
        self.written = []
        self._writer = None

    def predict_ab(self):
        """The model's ab for the samples, at their size, in Lab units."""
        outputs = self.model(self.L, training=False)
        if outputs.shape[-1] != 2:
            outputs = self.annealed_mean(outputs)
        height, width = self.L.shape[1:3]
        if tuple(outputs.shape[1:3]) != (height, width):
            outputs = keras.ops.image.resize(outputs, (height, width), interpolation="bilinear")
        return np.asarray(keras.ops.convert_to_numpy(outputs), dtype="float32")

    def grid(self, ab_pred):
        """uint8 RGB grid, one row per image: grey | prediction | truth."""
        pictures = [
            l_ab_to_rgb_uint8(self.L, ab) for ab in (np.zeros_like(self.ab), ab_pred, self.ab)
        ]
        rows = np.concatenate(pictures, axis=2)  # (N, H, 3W, 3)
        return rows.reshape(-1, rows.shape[2], 3)

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") if self.params else None
        if (epoch + 1) % self.every_n_epochs and epoch + 1 != last:
            return
        image = self.grid(self.predict_ab())
        if self.output_dir is not None:
            from PIL import Image

            os.makedirs(self.output_dir, exist_ok=True)
            path = os.path.join(self.output_dir, f"epoch_{epoch + 1:04d}.png")
            Image.fromarray(image).save(path)
            self.written.append(path)
        if self.tensorboard_dir is not None:
            self._write_tensorboard(image, epoch + 1)

    def _write_tensorboard(self, image, step):
        try:
            import tensorflow as tf

            write_image = tf.summary.image  # provided by the TensorBoard package
        except (ImportError, AttributeError):
            import warnings

            warnings.warn(
                "TensorFlow and TensorBoard are needed for TensorBoard summaries: "
                "SampleColorizationLogger "
                "writes PNG files only.",
                stacklevel=2,
            )
            self.tensorboard_dir = None
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.tensorboard_dir)
        with self._writer.as_default():
            write_image("samples", image[None], step=step)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
