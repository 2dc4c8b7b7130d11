"""Multi-device and multi-host training with the engines Keras drives (TensorFlow imported lazily).

JAX: `data_parallel`, NumPy batches of the *global* size; TensorFlow: `mirrored_strategy`.

Example (JAX; it sets the global distribution, so it is not run here)::

    distribution.data_parallel()  # before the model is built
    model.fit(data_pipeline.iterate_numpy(shards, global_batch_size), ...)
"""

import os

import keras


def data_parallel(devices=None, auto_shard_dataset=True):
    """Sets `keras.distribution.DataParallel` over `devices` as the global distribution (JAX).

    Args:
        devices: names such as `["gpu:0", "gpu:1"]`; `None`: all `list_devices()` (of all hosts).
        auto_shard_dataset: let Keras shard a `tf.data` input per process on multi-host jobs.

    Returns:
        The `keras.distribution.DataParallel` now in effect.
    """
    if keras.backend.backend() != "jax":
        raise RuntimeError(
            "keras.distribution.DataParallel needs the JAX backend (KERAS_BACKEND=jax); "
            f"the current backend is {keras.backend.backend()!r}. "
            "With TensorFlow use mirrored_strategy()."
        )
    if devices is None:
        devices = keras.distribution.list_devices()
    devices = list(devices)
    if not devices:
        raise ValueError("data_parallel: no devices to distribute over.")
    distribution = keras.distribution.DataParallel(
        devices=devices, auto_shard_dataset=auto_shard_dataset
    )
    keras.distribution.set_distribution(distribution)
    return distribution


def initialize_multi_host(coordinator_address=None, num_processes=None, process_id=None):
    """Joins this process to a multi-host JAX job (`keras.distribution.initialize`).

    Call it on every host before any other JAX work. `None` arguments are read from
    `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `..._NUM_PROCESSES` and `..._PROCESS_ID`.

    Args:
        coordinator_address: "host:port" of process 0 (the coordinator).
        num_processes: number of processes (usually one per host).
        process_id: this process's rank in [0, num_processes).
    """
    if keras.backend.backend() != "jax":
        raise RuntimeError(
            "initialize_multi_host needs the JAX backend; with TensorFlow set TF_CONFIG and use "
            "mirrored_strategy(multi_worker=True)."
        )
    if (
        num_processes is not None
        and process_id is not None
        and not 0 <= int(process_id) < int(num_processes)
    ):
        raise ValueError(
            f"`process_id` must be in [0, {num_processes}). Received: process_id={process_id!r}"
        )
    keras.distribution.initialize(
        job_addresses=coordinator_address, num_processes=num_processes, process_id=process_id
    )


def mirrored_strategy(devices=None, multi_worker=False):
    """A TensorFlow distribution strategy for `model.fit` (TensorFlow backend).

    Args:
        devices: e.g. `["/gpu:0", "/gpu:1"]`; `None` for every local GPU (else the CPU).
        multi_worker: `MultiWorkerMirroredStrategy` across the hosts in `TF_CONFIG` instead.

    Returns:
        The strategy. Build and compile the model inside `strategy.scope()`.
    """
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "mirrored_strategy needs the TensorFlow backend; "
            f"the current backend is {keras.backend.backend()!r}. "
            "With JAX use data_parallel()."
        )
    import tensorflow as tf

    if multi_worker:
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "multi_worker=True needs the TF_CONFIG environment variable (cluster and task)."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy(devices=devices)


def shard_by_file(dataset):
    """Sets FILE auto-sharding on a `read_shards` dataset: each worker reads whole, disjoint shards.

    Keep `num_shards` a multiple of the number of workers, and use the global batch size in
    `read_shards` with `drop_remainder=True` so every replica gets equal, static batches.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.FILE
    return dataset.with_options(options)
