"""Training on several devices and several hosts with the engines Keras already drives.

Two paths, one per backend, and no home-made machinery:

- JAX: `keras.distribution.DataParallel` (batch split over devices, variables
  replicated), with `keras.distribution.initialize` joining the processes of
  a multi-host job first. Feed it NumPy batches (`data_pipeline.iterate_numpy`)
  of the *global* batch size; Keras shards each batch over the devices.
- TensorFlow: `tf.distribute.MirroredStrategy` (one host, several GPUs) or
  `tf.distribute.MultiWorkerMirroredStrategy` (several hosts). Build and
  compile the model under `strategy.scope()` and feed `read_shards` with the
  global batch; `shard_by_file` makes each worker read whole, disjoint shard
  files (the shards are many equal files, which is what FILE auto-sharding
  needs).

Unlike the rest of `colorization/`, this module is backend specific by nature;
it imports TensorFlow or JAX only inside the function that needs it.

Example (JAX, any number of local devices; on a CPU-only machine one device):

>>> import os
>>> from colorization.training import distribution
>>> if os.environ.get("KERAS_BACKEND") == "jax":
...     distribution.data_parallel()  # doctest: +SKIP
"""

import os

import keras


def data_parallel(devices=None, auto_shard_dataset=True):
    """Sets `keras.distribution.DataParallel` over `devices` as the global distribution (JAX).

    Args:
        devices: device names such as `["gpu:0", "gpu:1"]`, or `None` for
            every device `keras.distribution.list_devices()` sees (on a
            multi-host job: the devices of all hosts, after `initialize`).
        auto_shard_dataset: let Keras shard a `tf.data` input per process on
            multi-host jobs (no effect on NumPy inputs, which each process
            feeds with its own part of the global batch).

    Returns:
        The `keras.distribution.DataParallel` now in effect. Variables
        created afterwards are replicated; `fit` splits each batch over the
        devices, so pass the global batch size.
    """
    if keras.backend.backend() != "jax":
        raise RuntimeError(
            "keras.distribution.DataParallel needs the JAX backend (KERAS_BACKEND=jax); "
            f"the current backend is {keras.backend.backend()!r}. With TensorFlow use mirrored_strategy()."
        )
    if devices is None:
        devices = keras.distribution.list_devices()
    devices = list(devices)
    if not devices:
        raise ValueError("data_parallel: no devices to distribute over.")
    distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=auto_shard_dataset)
    keras.distribution.set_distribution(distribution)
    return distribution


def initialize_multi_host(coordinator_address=None, num_processes=None, process_id=None):
    """Joins this process to a multi-host JAX job (`keras.distribution.initialize`).

    Call it first, on every host, before any other JAX work. Arguments left
    `None` are read by Keras from `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
    `KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID`
    (on Cloud TPU, JAX finds them itself).

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
    if num_processes is not None and process_id is not None and not 0 <= int(process_id) < int(num_processes):
        raise ValueError(f"process_id must be in [0, {num_processes}); received process_id={process_id!r}.")
    keras.distribution.initialize(
        job_addresses=coordinator_address, num_processes=num_processes, process_id=process_id
    )


def mirrored_strategy(devices=None, multi_worker=False):
    """A TensorFlow distribution strategy for `model.fit` (TensorFlow backend).

    Args:
        devices: e.g. `["/gpu:0", "/gpu:1"]`; `None` for every local GPU
            (or the CPU when there is none).
        multi_worker: `MultiWorkerMirroredStrategy` across the hosts named
            in the `TF_CONFIG` environment variable instead.

    Returns:
        The strategy. Build and compile the model inside `strategy.scope()`.
    """
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"mirrored_strategy needs the TensorFlow backend; the current backend is {keras.backend.backend()!r}. "
            "With JAX use data_parallel()."
        )
    import tensorflow as tf

    if multi_worker:
        if "TF_CONFIG" not in os.environ:
            raise ValueError("multi_worker=True needs the TF_CONFIG environment variable (cluster and task).")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy(devices=devices)


def shard_by_file(dataset):
    """Sets FILE auto-sharding on a `read_shards` dataset: each worker reads whole, disjoint shards.

    With `MultiWorkerMirroredStrategy` every worker then reads
    `1 / num_workers` of the shard files (so keep `num_shards >= num_workers`,
    ideally a multiple); within a worker, each global batch is split over its
    replicas. Use the global batch size in `read_shards` with
    `drop_remainder=True` so every replica gets equal, static batches.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.FILE
    return dataset.with_options(options)
