"""The docs/python.md Dask example, on a local cluster: many reads of one problem spread over
tasks, each with its own read numbers, whose union is exactly one big call."""

import dimod
import numpy as np
import pytest

from pbit import PBitSampler

distributed = pytest.importorskip("distributed")


def test_reads_spread_over_a_local_dask_cluster_equal_one_call(repo):
    from distributed import Client, LocalCluster

    bqm = dimod.BinaryQuadraticModel({}, {}, 0, "SPIN")
    rng = np.random.default_rng(4)
    for i in range(30):
        for j in range(i + 1, 30):
            if rng.random() < 0.3:
                bqm.add_interaction(i, j, rng.choice([-1.0, 1.0]))
    seed, per_task, tasks = 17, 6, 4

    sampler = PBitSampler(threads=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            [model] = client.scatter([bqm], broadcast=True)
            # each task: its own reads first_read .. first_read + per_task - 1; the variable
            # order travels as a list (pickling a dimod BQM may reorder its variables)
            order = list(bqm.variables)
            futures = [
                client.submit(
                    sampler.sample, model, num_reads=per_task, num_sweeps=200, seed=seed,
                    first_read=k * per_task, variable_order=order, pure=False,
                )
                for k in range(tasks)
            ]
            union = dimod.concatenate(client.gather(futures))
    one = PBitSampler().sample(bqm, num_reads=per_task * tasks, num_sweeps=200, seed=seed)
    assert list(union.variables) == list(one.variables) == list(bqm.variables)
    np.testing.assert_array_equal(union.record.sample, one.record.sample)
    np.testing.assert_array_equal(union.record.energy, one.record.energy)
