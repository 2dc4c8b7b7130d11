"""Coherent colorization (report 003, sections 3-4, figure 4) and its proposed fix (section 5)."""

import keras
import numpy as np
from keras import ops

import colorization.models.contract as contract
from colorization.layers import CENTERED
from colorization.layers import AnnealedMean
from colorization.layers import apply_l_normalization
from colorization.losses import RebalancedCrossEntropy
from colorization.losses.coherence import gradient_coherence_map
from colorization.losses.regularization import REGULARIZER_TEMPERATURE
from colorization.losses.regularization import color_regularizer
from colorization.losses.targets import resize_targets
from colorization.models.eccv16 import eccv16
from colorization.models.registry import register_model

DECODE_TEMPERATURE = 0.01
# Inner edges (Lab units per pixel) of the bins of true gradient magnitudes used by the
# rebalancing fix.
GRADIENT_MAGNITUDE_EDGES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
LOSS_TERMS = ("cross_entropy", "coherence", "regularizer")


# Layers


@keras.saving.register_keras_serializable(package="colorization")
class StopGradient(keras.layers.Layer):
    """Identity in the forward pass, zero gradient backwards (`keras.ops.stop_gradient`).

    Example:
    >>> tuple(StopGradient()(np.ones((1, 2), "float32")).shape)
    (1, 2)
    """

    def call(self, inputs):
        return ops.stop_gradient(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


# Gradient-magnitude rebalancing (report 003, section 5)


def true_gradient_magnitude(ab):
    """Per-pixel norm of the truth's forward a and b differences (as eq. 3): `(B, H-1, W-1)`."""
    ab = ops.cast(ab, "float32")
    along_width = ab[:, :-1, 1:, :] - ab[:, :-1, :-1, :]
    along_height = ab[:, 1:, :-1, :] - ab[:, :-1, :-1, :]
    squared = ops.sum(ops.square(along_width), axis=-1) + ops.sum(ops.square(along_height), axis=-1)
    return ops.sqrt(squared)


def gradient_magnitude_counts(batches, edges=GRADIENT_MAGNITUDE_EDGES):
    """Counts of true ab gradient magnitudes per bin over `(L, ab)` batches or ab arrays.

    Args:
        batches: an iterable of `(L, ab)` batches, or of ab arrays `(B, H, W, 2)`.
        edges: increasing inner edges: bin k is `[edges[k-1], edges[k])`, from 0 to infinity.

    Returns:
        `(len(edges) + 1,)` float64 counts.
    """
    edges = np.asarray(edges, dtype="float64")
    counts = np.zeros(len(edges) + 1)
    for batch in batches:
        ab = batch[1] if isinstance(batch, (tuple, list)) else batch
        magnitude = np.asarray(ops.convert_to_numpy(true_gradient_magnitude(ab)), dtype="float64")
        counts += np.bincount(
            np.searchsorted(edges, magnitude.ravel(), side="right"), minlength=len(edges) + 1
        )
    if counts.sum() == 0:
        raise ValueError("gradient_magnitude_counts received no ab images.")
    return counts


def coherence_rebalancing(counts, edges=GRADIENT_MAGNITUDE_EDGES, alpha=1.0, gamma=0.5):
    """Report 003 section 5's rebalancing: weights per bin of true gradient magnitude.

    As for colours (eq. 1) with p the magnitudes' distribution: `w = ((1 - gamma) p + gamma / K)
    ** -alpha`, normalised to expectation 1 under p, so rare edges weigh more than flat pixels.

    Args:
        counts: `(K,)` counts from `gradient_magnitude_counts`.
        edges: the `K - 1` inner edges those counts were made with.
        alpha, gamma: the exponent and the uniform mixing weight.

    Returns:
        `{"edges": [...], "weights": [...]}` for `coherent(coherence_rebalancing=...)`.
    """
    counts = np.asarray(counts, dtype="float64")
    if counts.ndim != 1 or len(counts) != len(edges) + 1 or counts.sum() <= 0:
        raise ValueError(
            f"counts must be {len(edges) + 1} non-negative numbers for {len(edges)} edges. "
            f"Received: {counts}"
        )
    p = counts / counts.sum()
    weights = ((1.0 - gamma) * p + gamma / len(p)) ** -float(alpha)
    weights = weights / np.sum(p * weights)
    return {"edges": [float(e) for e in edges], "weights": [float(w) for w in weights]}


# The model


@keras.saving.register_keras_serializable(package="colorization")
class CoherentColorizer(keras.Model):
    """Report 003's coherent colorizer (figure 4), trained by `compile` + `fit` on `(L, ab)`.

    Base: `eccv16` classification, Z `(B, H/4, W/4, Q)`. Refinement: Z (gradient stopped, section 4)
    upsampled and a grey branch (two 3x3 ReLU convs on L), a 3x3 ReLU conv, a 1x1 softmax to Zhat
    `(B, H, W, Q)`, an annealed mean to ab. Loss (`compute_loss`, hence the subclass): cross-entropy
    on Z + eq. 3 on ab + eq. 5 between Z and Zhat, each logged; `model(L)` gives ab. Open choices:
    branch sizes, full-size Zhat, decode T = 0.01 (the report's other softmax), unit loss weights.

    Args:
        input_shape: `(H, W, 1)`, fixed, sides multiples of 8.
        backbone: a classification `keras.Model` from L to `(B, H/f, W/f, Q)` probabilities, or
            `None` for `eccv16(input_shape, width=width, num_bins=num_bins)`.
        width, num_bins: those of the default backbone (Q = 313).
        head: only `"regression"` (the model outputs ab).
        branch_filters, refine_filters: channels of the grey branch and of the refinement.
        decode_temperature, regularizer_temperature: T of the decoding and of eq. 5 (report: 0.01).
        coherence_weight, regularizer_weight: loss weights.
        class_weights: rebalancing weights `(Q,)` of the cross-entropy, or `None`.
        coherence_rebalancing: `None`, or section 5's `{"edges": [...], "weights": [...]}`.
        stop_gradient: keep the eq. 3 and 5 gradients out of the base; `False` only for ablations.

    Example:
    >>> model = coherent((32, 32, 1), width=4, branch_filters=4, refine_filters=8)
    >>> model.compile(optimizer="adam")
    >>> L = np.random.uniform(0, 100, (2, 32, 32, 1)).astype("float32")
    >>> logs = model.fit(L, np.zeros((2, 32, 32, 2), "float32"), verbose=0).history
    >>> sorted(logs), model.output_shape
    (['coherence', 'cross_entropy', 'loss', 'regularizer'], (None, 32, 32, 2))
    """

    def __init__(
        self,
        input_shape=(256, 256, 1),
        width=64,
        head="regression",
        num_bins=None,
        backbone=None,
        branch_filters=32,
        refine_filters=64,
        decode_temperature=DECODE_TEMPERATURE,
        regularizer_temperature=REGULARIZER_TEMPERATURE,
        coherence_weight=1.0,
        regularizer_weight=1.0,
        class_weights=None,
        coherence_rebalancing=None,
        stop_gradient=True,
        name="coherent",
        **kwargs,
    ):
        input_shape = contract.check_input_shape(input_shape, "coherent", fixed=True)
        contract.check_choice("head", head, (contract.REGRESSION,))
        base = backbone
        if isinstance(base, dict):
            base = keras.saving.deserialize_keras_object(base)
        base_given = base is not None
        if base is None:
            base = eccv16(
                input_shape, width=width, head="classification", num_bins=num_bins, name="base"
            )
        z_shape = tuple(base.outputs[0].shape)
        if (
            len(z_shape) != 4
            or z_shape[1] is None
            or input_shape[0] % z_shape[1]
            or input_shape[1] % z_shape[2]
        ):
            raise ValueError(
                "The base must map L to a distribution grid (batch, H/f, W/f, Q) with an "
                "integer f. "
                f"Received: base output shape={z_shape} for input_shape={input_shape}"
            )
        factor = input_shape[0] // z_shape[1]
        if input_shape[1] // z_shape[2] != factor:
            raise ValueError(
                f"The base's output must be downsampled equally in H and W. Received: {z_shape}"
            )
        if coherence_rebalancing is not None:
            edges = list(coherence_rebalancing["edges"])
            weights = list(coherence_rebalancing["weights"])
            if len(weights) != len(edges) + 1:
                raise ValueError(
                    "coherence_rebalancing needs one more weight than inner edges. "
                    f"Received: {len(edges)} edges, {len(weights)} weights"
                )
            coherence_rebalancing = {
                "edges": [float(e) for e in edges],
                "weights": [float(w) for w in weights],
            }

        # Functional model
        inputs = keras.Input(shape=input_shape, name="L")
        z = base(inputs)
        z_in = StopGradient(name="stop_gradient")(z) if stop_gradient else z
        z_up = keras.layers.UpSampling2D(factor, interpolation="bilinear", name="z_upsample")(z_in)
        g = apply_l_normalization(inputs, CENTERED, name="branch_normalize_l")
        g = keras.layers.Conv2D(
            branch_filters, 3, padding="same", activation="relu", name="branch_conv1"
        )(g)
        g = keras.layers.Conv2D(
            branch_filters, 3, padding="same", activation="relu", name="branch_conv2"
        )(g)
        h = keras.layers.Concatenate(name="refine_concat")([z_up, g])
        h = keras.layers.Conv2D(
            refine_filters, 3, padding="same", activation="relu", name="refine_conv"
        )(h)
        h = keras.layers.Conv2D(z_shape[-1], 1, name="refine_logits")(h)
        z_hat = keras.layers.Softmax(name="z_hat", dtype="float32")(h)
        bins = None if z_shape[-1] == 313 else getattr(base, "bins", None)
        ab = AnnealedMean(temperature=decode_temperature, bins=bins, name="ab")(z_hat)
        super().__init__(inputs, ab, name=name, **kwargs)
        # An untracked view of the same graph with every head: no new layers or weights, nothing
        # saved twice.
        heads = keras.Model(
            inputs, {"z": z, "z_up": z_up, "z_hat": z_hat, "ab": ab}, name=f"{name}_heads"
        )
        object.__setattr__(self, "_heads", heads)

        # Config
        self.input_shape_ = input_shape
        self.base_config = base if base_given else None
        self._base_name = base.name
        self.width = width
        self.head = head
        self.num_bins = num_bins
        self.branch_filters = int(branch_filters)
        self.refine_filters = int(refine_filters)
        self.decode_temperature = float(decode_temperature)
        self.regularizer_temperature = float(regularizer_temperature)
        self.coherence_weight = float(coherence_weight)
        self.regularizer_weight = float(regularizer_weight)
        self.class_weights = (
            None if class_weights is None else np.asarray(class_weights, "float32").tolist()
        )
        self.coherence_rebalancing = coherence_rebalancing
        self.stop_gradient = bool(stop_gradient)
        self.cross_entropy = RebalancedCrossEntropy(class_weights=class_weights)
        self.trackers = {term: keras.metrics.Mean(name=term) for term in LOSS_TERMS}

    @property
    def base(self):
        """The classification network giving Z."""
        return self.get_layer(self._base_name)

    def heads(self, L, training=False):
        """`{"z", "z_up", "z_hat", "ab"}` for a batch of L, in inference mode unless `training`."""
        return self._heads(L, training=bool(training))

    def call(self, inputs, training=None, mask=None):
        if training:
            return self._heads(inputs, training=True)
        return super().call(inputs, training=training, mask=mask)

    def coherence(self, ab_true, ab_pred):
        """Eq. 3 as a mean over pixels, weighted by the section-5 rebalancing when set."""
        ab_true = resize_targets(
            ops.cast(ab_true, "float32"), ab_pred.shape[1], ab_pred.shape[2], "bilinear"
        )
        per_pixel = gradient_coherence_map(ab_true, ab_pred)
        if self.coherence_rebalancing is None:
            return ops.mean(per_pixel)
        magnitude = true_gradient_magnitude(ab_true)
        index = ops.digitize(magnitude, self.coherence_rebalancing["edges"])
        weights = ops.take(
            ops.convert_to_tensor(np.array(self.coherence_rebalancing["weights"], "float32")), index
        )
        return ops.mean(weights * per_pixel)

    def loss_terms(self, ab_true, outputs):
        """The unweighted `{"cross_entropy", "coherence", "regularizer"}` of training outputs."""
        return {
            "cross_entropy": self.cross_entropy(ab_true, outputs["z"]),
            "coherence": self.coherence(ab_true, outputs["ab"]),
            "regularizer": color_regularizer(
                outputs["z_up"], outputs["z_hat"], self.regularizer_temperature
            ),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not isinstance(y_pred, dict):
            y_pred = self._heads(x, training=False)
        terms = self.loss_terms(y, y_pred)
        for term, value in terms.items():
            self.trackers[term].update_state(value)
        total = (
            terms["cross_entropy"]
            + self.coherence_weight * terms["coherence"]
            + self.regularizer_weight * terms["regularizer"]
        )
        if getattr(self, "_compile_loss", None) is not None or self.losses:
            # A compiled loss on ab, and any `add_loss` terms (e.g. kernel regularisers).
            total = total + super().compute_loss(
                x=x, y=y, y_pred=y_pred["ab"], sample_weight=sample_weight, training=training
            )
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, dict):
            y_pred = y_pred["ab"]
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def get_config(self):
        return {
            "input_shape": self.input_shape_,
            "backbone": None
            if self.base_config is None
            else keras.saving.serialize_keras_object(self.base_config),
            "width": self.width,
            "head": self.head,
            "num_bins": self.num_bins,
            "branch_filters": self.branch_filters,
            "refine_filters": self.refine_filters,
            "decode_temperature": self.decode_temperature,
            "regularizer_temperature": self.regularizer_temperature,
            "coherence_weight": self.coherence_weight,
            "regularizer_weight": self.regularizer_weight,
            "class_weights": self.class_weights,
            "coherence_rebalancing": self.coherence_rebalancing,
            "stop_gradient": self.stop_gradient,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register_model("coherent")
def coherent(
    input_shape=(256, 256, 1), width=64, head="regression", num_bins=None, name="coherent", **kwargs
):
    """Report 003's coherent colorizer: see `CoherentColorizer` for the architecture and arguments.

    Example:
    >>> coherent((32, 32, 1), width=4, branch_filters=4, refine_filters=8).output_shape
    (None, 32, 32, 2)
    """
    return CoherentColorizer(
        input_shape=input_shape, width=width, head=head, num_bins=num_bins, name=name, **kwargs
    )
