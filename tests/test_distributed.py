"""Multi-device training on CPU: TF MirroredStrategy and JAX DataParallel, each on two devices.

Devices must be configured before TensorFlow or JAX initialise, so each case
runs a small script in a fresh subprocess (with `KERAS_BACKEND` and, for JAX,
`XLA_FLAGS=--xla_force_host_platform_device_count=2`) and reports JSON.

Data-parallel training is checked against an independent computation of what
it must equal:
- TF MirroredStrategy: each replica sees half of every global batch (its own
  BatchNorm statistics) and the gradients are averaged; the reference is that
  computed by hand with `tf.GradientTape` on one device (one SGD step).
- JAX DataParallel: one SPMD program over the sharded global batch, so it
  equals ordinary single-device training on the same batches.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A guard against a hung subprocess, not a speed limit: a loaded 2-core CI machine is slow.
HANG_GUARD_SECONDS = 1800


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    from data_pipeline import write_shards

    out = tmp_path_factory.mktemp("distributed_shards")
    # 12 examples of 32 px in 3 shards of 4.
    write_shards(
        "samples:validation", out, image_size=32, crops_per_image=4, examples_per_shard=4, workers=1
    )
    return out


def _run(script, env_extra, *args, timeout=HANG_GUARD_SECONDS):
    env = dict(os.environ)
    env.update(
        {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": REPO + os.pathsep + env.get("PYTHONPATH", "")}
    )
    env.update(env_extra)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
    )
    assert result.returncode == 0, (
        f"subprocess failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


_TF_SCRIPT = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
from colorization.training import distribution
from colorization.models import get_model
from data_pipeline import read_shards
from tensorflow.python.data.experimental.ops.distribute import _AutoShardDataset

directory = sys.argv[1]
report = {"logical_devices": len(tf.config.list_logical_devices("CPU"))}

# FILE auto-sharding, as MultiWorkerMirroredStrategy applies it for two workers.
ids = read_shards(directory, batch_size=1, shuffle=False, with_ids=True).map(lambda L, ab, i: i)
ids = distribution.shard_by_file(ids)
workers = [
    sorted(x.decode() for x in _AutoShardDataset(ids, 2, w).unbatch().as_numpy_iterator())
    for w in range(2)
]
report["worker_ids"] = workers
report["all_ids"] = sorted(x.decode() for x in ids.unbatch().as_numpy_iterator())

global_batch = 4
dataset = read_shards(directory, global_batch, shuffle=False, drop_remainder=True)
dataset = distribution.shard_by_file(dataset)
L, ab = next(iter(dataset))
keras.utils.set_random_seed(0)
kwargs = dict(input_shape=(32, 32, 1), width=4, dropout=0.0)
reference = get_model("unet", **kwargs)
initial = reference.get_weights()

# By hand: half a batch per replica, mean-squared error per replica, gradients averaged.
grads = []
for half in (slice(0, 2), slice(2, 4)):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(reference(L[half], training=True) - ab[half]))
    grads.append(tape.gradient(loss, reference.trainable_variables))
lr = 1e-4
expected = [
    v.numpy() - lr * (g0.numpy() + g1.numpy()) / 2
    for v, g0, g1 in zip(reference.trainable_variables, *grads)
]

strategy = distribution.mirrored_strategy(devices=["/cpu:0", "/cpu:1"])
report["replicas"] = strategy.num_replicas_in_sync
with strategy.scope():
    model = get_model("unet", **kwargs)
    model.set_weights(initial)
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
per_replica = strategy.experimental_distribute_dataset(dataset)
first = next(iter(per_replica))[0]
report["per_replica_batch"] = [int(t.shape[0]) for t in strategy.experimental_local_results(first)]
history = model.fit(dataset.take(1), epochs=1, verbose=0)
report["loss"] = history.history["loss"][0]
report["max_weight_error"] = max(
    float(np.abs(v.numpy() - e).max()) for v, e in zip(model.trainable_variables, expected)
)
reference_weights = [v.numpy() for v in reference.trainable_variables]
report["max_update"] = max(float(np.abs(e - w).max()) for e, w in zip(expected, reference_weights))
print(json.dumps(report))
"""


def test_mirrored_strategy_two_logical_devices(shard_dir):
    report = _run(
        _TF_SCRIPT, {"KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}, shard_dir
    )
    assert report["logical_devices"] == 2 and report["replicas"] == 2
    # FILE auto-sharding: two workers read disjoint whole shards covering every example.
    worker0, worker1 = report["worker_ids"]
    assert worker0 and worker1 and not set(worker0) & set(worker1)
    assert sorted(worker0 + worker1) == report["all_ids"] and len(report["all_ids"]) == 12
    assert sorted([len(worker0), len(worker1)]) == [4, 8]  # shards {0, 2} and {1}
    # The global batch of 4 is split 2 + 2 over the replicas.
    assert report["per_replica_batch"] == [2, 2]
    assert np.isfinite(report["loss"])
    assert (
        report["max_update"] > 1e-4
    )  # the step moved the weights, so the comparison below means something
    assert report["max_weight_error"] < 1e-3 * report["max_update"], report


_JAX_SCRIPT = """
import json, sys
import jax
import keras
import numpy as np
from colorization.training import distribution
from colorization.models import get_model
from data_pipeline import iterate_numpy

directory = sys.argv[1]
report = {"devices": [str(d) for d in jax.devices()]}
batches = list(iterate_numpy(directory, 4, shuffle=False, drop_remainder=True))[:2]
kwargs = dict(input_shape=(32, 32, 1), width=4, dropout=0.0)

# One SGD step per batch, each from the same initial weights: over several steps, a ReLU whose
# input rounds to the other side of 0 in one run only lets the runs drift apart legitimately.
keras.utils.set_random_seed(0)
reference = get_model("unet", **kwargs)
initial = reference.get_weights()
reference.compile(optimizer=keras.optimizers.SGD(1e-4), loss="mse")
expected = []
for L, ab in batches:
    reference.set_weights(initial)
    expected.append((float(reference.train_on_batch(L, ab)), reference.get_weights()))

data_parallel = distribution.data_parallel()
report["mesh_devices"] = int(np.size(data_parallel.device_mesh.devices))
report["data_layout"] = [str(a) for a in data_parallel.get_data_layout((4, 32, 32, 1)).axes]
model = get_model("unet", **kwargs)
model.compile(optimizer=keras.optimizers.SGD(1e-4), loss="mse")
kernel = model.trainable_variables[0].value
report["kernel_devices"] = len(kernel.sharding.device_set)
report["kernel_replicated"] = bool(kernel.sharding.is_fully_replicated)
report["loss_error"] = report["loss"] = report["weight_error"] = report["weight_change"] = 0.0
for (L, ab), (expected_loss, expected_weights) in zip(batches, expected):
    model.set_weights(initial)
    loss = float(model.train_on_batch(L, ab))
    report["loss_error"] = max(report["loss_error"], abs(loss - expected_loss))
    report["loss"] = max(report["loss"], expected_loss)
    for a, b, c in zip(model.get_weights(), expected_weights, initial):
        b = np.asarray(b)
        report["weight_error"] = max(report["weight_error"], float(np.abs(np.asarray(a) - b).max()))
        report["weight_change"] = max(report["weight_change"], float(np.abs(b - c).max()))

print(json.dumps(report))
"""


def test_jax_data_parallel_two_host_devices(shard_dir):
    env = {
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
    }
    report = _run(_JAX_SCRIPT, env, shard_dir)
    assert len(report["devices"]) == 2 and report["mesh_devices"] == 2
    assert report["data_layout"][0] == "batch" and report["data_layout"][1:] == ["None"] * 3
    assert report["kernel_devices"] == 2 and report["kernel_replicated"]
    assert report["weight_change"] > 1e-4
    assert (
        report["loss_error"] < 1e-5 * report["loss"] + 1e-4
        and report["weight_error"] < 1e-3 * report["weight_change"]
    ), report
