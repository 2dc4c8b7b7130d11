"""The empirical ab-bin prior of a shard directory, and its plot.

`compute_prior` counts every pixel's nearest of the 313 ab bins in one pass and smooths the
counts as Zhang et al. (`quantization.empirical_prior`), the input of `rebalancing_weights`;
it is stored in the manifest under the split's `ab_prior`.
"""

import numpy as np

from data_pipeline import manifest as manifest_lib


def compute_prior(directory, split=None, batch_size=256, smoothing_sigma=5.0, store=True):
    """Returns the smoothed empirical prior `(313,)` of a split, summing to 1.

    Args:
        directory: a directory written by `write_shards`.
        split: which split (may be omitted when there is one).
        batch_size: examples counted per step.
        smoothing_sigma: Gaussian smoothing of the counts in ab units (Zhang
            et al.: 5); 0 for the raw histogram.
        store: write `ab_prior` (counts, prior, sigma) into `manifest.json`.

    Example:

    >>> import tempfile
    >>> from data_pipeline import write_shards, compute_prior
    >>> from colorization.quantization import rebalancing_weights
    >>> out = tempfile.mkdtemp()
    >>> _ = write_shards("samples:validation", out, image_size=32, crops_per_image=4)
    >>> prior = compute_prior(out)
    >>> prior.shape, round(float(prior.sum()), 6), rebalancing_weights(prior).shape
    ((313,), 1.0, (313,))
    """
    from colorization.quantization import ABQuantizer
    from colorization.quantization import empirical_prior
    from data_pipeline.reader import read_shards

    manifest = manifest_lib.load_manifest(directory)
    split, entry = manifest_lib.select_split(manifest, split, directory)
    quantizer = ABQuantizer()
    counts = np.zeros(quantizer.num_bins, dtype=np.float64)
    for _, ab in read_shards(directory, batch_size, shuffle=False, split=split, verify="checksum"):
        counts += np.asarray(quantizer.bin_counts(ab.numpy()), dtype=np.float64)
    if counts.sum() == 0:
        raise ValueError(f"split {split!r} of {str(directory)!r} holds no pixels to count.")
    prior = np.asarray(empirical_prior(counts, smoothing_sigma=smoothing_sigma), dtype=np.float64)
    if store:
        manifest = manifest_lib.load_manifest(directory)
        manifest["splits"][split]["ab_prior"] = {
            "bins": "zhang313",
            "smoothing_sigma": float(smoothing_sigma),
            "num_pixels": int(counts.sum()),
            "counts": [int(c) for c in counts],
            "prior": [float(p) for p in prior],
        }
        manifest_lib.save_manifest(directory, manifest)
    return prior


def stored_prior(directory, split=None):
    """The prior saved in the manifest, or None if it has not been computed."""
    manifest = manifest_lib.load_manifest(directory)
    split, entry = manifest_lib.select_split(manifest, split, directory)
    stored = entry.get("ab_prior")
    return None if stored is None else np.asarray(stored["prior"], dtype=np.float64)


def plot_prior(prior, path, title="ab prior", gamma=0.5):
    """Saves a figure of the prior in the spirit of report 000's figure 1.

    Three panels over the bins: each in its colour at L = 50 with area proportional to its
    probability; log10 of the probability; and its `rebalancing_weights`.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from colorization.color import lab_to_rgb
    from colorization.quantization import default_ab_bins
    from colorization.quantization import rebalancing_weights

    bins = default_ab_bins()
    prior = np.asarray(prior, dtype=np.float64)
    lab = np.concatenate(
        [np.full((len(bins), 1), 50.0, np.float32), bins.astype(np.float32)], axis=-1
    )
    colours = np.asarray(lab_to_rgb(lab), dtype=np.float64)
    weights = rebalancing_weights(prior, alpha=1.0, gamma=gamma)
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    sizes = 900.0 * prior / prior.max()
    axes[0].scatter(
        bins[:, 0], bins[:, 1], s=np.maximum(sizes, 1.0), c=colours, marker="s", edgecolors="none"
    )
    axes[0].set_title(f"{title}: bins at L = 50, area ~ probability")
    panel = axes[1].scatter(
        bins[:, 0],
        bins[:, 1],
        s=60,
        c=np.log10(np.maximum(prior, 1e-12)),
        marker="s",
        cmap="viridis",
    )
    fig.colorbar(panel, ax=axes[1], label="log10 p")
    axes[1].set_title("log10 prior")
    panel = axes[2].scatter(bins[:, 0], bins[:, 1], s=60, c=weights, marker="s", cmap="magma")
    fig.colorbar(panel, ax=axes[2], label="weight")
    axes[2].set_title(f"rebalancing weight (gamma = {gamma})")
    for ax in axes:
        ax.set_xlabel("a")
        ax.set_ylabel("b")
        ax.set_xlim(-95, 105)
        ax.set_ylim(-115, 105)
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
