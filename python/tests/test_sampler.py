"""PBitSampler: energies, reproducibility, quantisation, schedules, initial states, errors,
pickling, the GIL and interruption."""

import _thread
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time

import dimod
import numpy as np
import pytest

import pbit
from conftest import random_bqm, verilator_available
from pbit import PBitSampler


def rows(ss):
    return np.asarray(ss.record.sample)


def test_energies_are_the_users_float_bqm_and_order_is_the_bqms():
    for vartype in ("SPIN", "BINARY"):
        bqm = random_bqm(30, 0.3, 1, vartype)
        ss = PBitSampler().sample(bqm, num_reads=6, num_sweeps=200, seed=2)
        assert list(ss.variables) == list(bqm.variables)
        assert ss.vartype is bqm.vartype
        assert len(ss) == 6
        np.testing.assert_array_equal(ss.record.num_occurrences, np.ones(6))
        # energies from the float BQM (values are off the grid), offset included
        np.testing.assert_allclose(ss.record.energy, bqm.energies(ss), rtol=0, atol=1e-12)
        values = set(np.unique(rows(ss)).tolist())
        assert values <= ({-1, 1} if vartype == "SPIN" else {0, 1})


def test_same_seed_same_samples_for_any_thread_count_and_reads_union():
    bqm = random_bqm(40, 0.4, 4)
    base = PBitSampler(threads=1).sample(bqm, num_reads=13, num_sweeps=100, seed=9)
    for threads in (2, 3, 8):
        again = PBitSampler(threads=threads).sample(bqm, num_reads=13, num_sweeps=100, seed=9)
        np.testing.assert_array_equal(rows(again), rows(base))
    # a different seed differs (else the comparisons above prove little)
    other = PBitSampler().sample(bqm, num_reads=13, num_sweeps=100, seed=10)
    assert not np.array_equal(rows(other), rows(base))
    # reads 0..12 split over calls with their own read numbers are the same reads
    parts = [
        PBitSampler().sample(bqm, num_reads=k, num_sweeps=100, seed=9, first_read=f)
        for f, k in ((0, 5), (5, 1), (6, 7))
    ]
    np.testing.assert_array_equal(np.vstack([rows(p) for p in parts]), rows(base))


def test_sparse_machine_is_reproducible_and_a_different_machine():
    bqm = random_bqm(30, 0.2, 5)
    a = PBitSampler(machine="sparse", threads=1).sample(bqm, num_reads=6, num_sweeps=80, seed=3)
    b = PBitSampler(threads=3).sample(bqm, machine="sparse", num_reads=6, num_sweeps=80, seed=3)
    np.testing.assert_array_equal(rows(a), rows(b))
    assert a.info["machine"] == "sparse"
    np.testing.assert_allclose(a.record.energy, bqm.energies(a), atol=1e-12)


def test_variable_order_not_labels_fixes_the_machine():
    # the same model with its variables inserted in another order is another machine layout:
    # samples are reproducible for a given BQM, column k being bqm.variables[k]
    bqm = random_bqm(16, 0.5, 6)
    relabelled = dimod.BinaryQuadraticModel(bqm.vartype)
    for v in reversed(list(bqm.variables)):
        relabelled.add_variable(v, bqm.get_linear(v))
    for (u, v), b in bqm.quadratic.items():
        relabelled.add_interaction(u, v, b)
    ss = PBitSampler().sample(relabelled, num_reads=3, seed=1, num_sweeps=30)
    assert list(ss.variables) == list(relabelled.variables)
    again = PBitSampler().sample(relabelled, num_reads=3, seed=1, num_sweeps=30)
    np.testing.assert_array_equal(rows(ss), rows(again))


def test_quantization_scale_is_reported_and_error_refuses():
    # dyadic values (dimod's own tests put 105 beside -3) scale exactly
    bqm = dimod.BinaryQuadraticModel({"a": 6.0}, {("a", "b"): -3, ("b", "c"): 105}, 0, "SPIN")
    ss = PBitSampler().sample(bqm, num_reads=2, seed=1, quantization="error")
    q = ss.info["quantization"]
    # 105·s ≤ 15.9375 (the largest coupling) → s = 1/8, and 105/8 = 13.125 is on the 1/16 grid
    assert q == {"mode": "error", "scale": 0.125, "max_abs_error": 0.0}
    # 0.1 is not dyadic: scale 128 (0.1·128 = 12.8 ≤ 15.9375), rounded to 1/16 of the scaled unit
    bqm = dimod.BinaryQuadraticModel({}, {("a", "b"): 0.1, ("b", "c"): -0.03}, 0, "SPIN")
    ss = PBitSampler().sample(bqm, num_reads=2, seed=1)
    q = ss.info["quantization"]
    assert q["mode"] == "scale" and q["scale"] == 128.0
    # -0.03·128·16 = -61.44 rounds to -61: error 0.44/2048 in the model's units
    assert q["max_abs_error"] == pytest.approx(0.44 / 2048, rel=1e-9)
    with pytest.raises(ValueError, match="not on the machine's grid"):
        PBitSampler().sample(bqm, num_reads=1, seed=1, quantization="error")
    with pytest.raises(ValueError, match="quantization"):
        PBitSampler().sample(bqm, quantization="round")


def test_schedules():
    bqm = random_bqm(10, 0.5, 7, dyadic=True)
    ss = PBitSampler().sample(bqm, num_reads=1, num_sweeps=1000, seed=1, beta_range=(0.1, 2.0))
    steps = ss.info["beta_schedule"]
    assert len(steps) == pbit.MAX_STEPS
    assert sum(k for _, k in steps) == 1000
    betas = [b for b, _ in steps]
    assert betas == sorted(betas)
    # geometric: constant ratio up to the machine's β rounding (2^-16 units)
    ratios = np.array(betas[1:]) / np.array(betas[:-1])
    assert np.allclose(ratios, (2.0 / 0.1) ** (1 / 31), rtol=1e-3)
    ss = PBitSampler().sample(
        bqm, num_reads=1, num_sweeps=10, seed=1, beta_range=(0.5, 1.5), beta_schedule_type="linear"
    )
    assert [k for _, k in ss.info["beta_schedule"]] == [1] * 10
    assert np.allclose([b for b, _ in ss.info["beta_schedule"]], np.linspace(0.5, 1.5, 10), atol=1e-4)
    custom = [0.1, 0.5, 1.0, 4.0]
    ss = PBitSampler().sample(
        bqm, beta_schedule_type="custom", beta_schedule=custom, num_sweeps_per_beta=3, seed=1
    )
    assert [k for _, k in ss.info["beta_schedule"]] == [3] * 4
    assert np.allclose([b for b, _ in ss.info["beta_schedule"]], custom, atol=1e-4)
    with pytest.raises(ValueError, match="32"):
        PBitSampler().sample(bqm, beta_schedule_type="custom", beta_schedule=np.linspace(0.1, 3, 33))
    with pytest.raises(ValueError):
        PBitSampler().sample(bqm, beta_schedule_type="cosine")


def test_default_beta_range_is_dwave_samplers():
    samplers = pytest.importorskip("dwave.samplers.sa.sampler")
    for seed, vartype in ((1, "SPIN"), (2, "BINARY"), (3, "SPIN")):
        bqm = random_bqm(25, 0.3, seed, vartype, dyadic=seed == 3)
        want = samplers.default_beta_range(bqm)
        assert pbit.default_beta_range(bqm) == pytest.approx(tuple(want), rel=1e-12)
        ss = PBitSampler().sample(bqm, num_reads=1, num_sweeps=5, seed=1)
        assert ss.info["beta_range"] == pytest.approx(tuple(want), rel=1e-12)


def test_initial_states_start_the_reads():
    bqm = random_bqm(20, 0.4, 8, dyadic=True)
    rng = np.random.default_rng(1)
    init = rng.choice([-1, 1], size=(4, 20)).astype(np.int8)
    # a cold single sweep: the best state never has a higher energy than the start (the best
    # counts the start state), so every read's energy is at most its initial state's
    ss = PBitSampler().sample(
        bqm, initial_states=(init, list(bqm.variables)), beta_schedule_type="custom",
        beta_schedule=[50.0], seed=3,
    )
    assert len(ss) == 4
    start_e = bqm.energies((init, list(bqm.variables)))
    assert np.all(ss.record.energy <= start_e + 1e-12)
    # reproducible, and different from the machine's own seeded start
    again = PBitSampler(threads=1).sample(
        bqm, initial_states=(init, list(bqm.variables)), beta_schedule_type="custom",
        beta_schedule=[50.0], seed=3,
    )
    np.testing.assert_array_equal(rows(ss), rows(again))
    seeded = PBitSampler().sample(
        bqm, num_reads=4, beta_schedule_type="custom", beta_schedule=[50.0], seed=3
    )
    assert not np.array_equal(rows(seeded), rows(ss))
    # BINARY initial states for a BINARY model; tile to more reads
    b = bqm.binary
    ss = PBitSampler().sample(
        b, initial_states=((init[:2] + 1) // 2, list(b.variables)), num_reads=4,
        initial_states_generator="tile", num_sweeps=10, seed=1,
    )
    assert len(ss) == 4
    with pytest.raises(ValueError):
        PBitSampler().sample(b, initial_states_generator="none", num_reads=2)


def test_errors_are_python_exceptions_with_the_rust_message():
    bqm = dimod.BinaryQuadraticModel({"a": 1.0, "b": -1.0}, {("a", "b"): 0.5}, 0, "SPIN")
    with pytest.raises(ValueError, match="seed"):
        PBitSampler().sample(bqm, seed=-1)
    with pytest.raises(ValueError, match="threads"):
        PBitSampler().sample(bqm, threads=0)
    with pytest.raises(ValueError, match="num_reads"):
        PBitSampler().sample(bqm, num_reads=(1 << 20) + 1)
    with pytest.raises(ValueError, match="backend"):
        PBitSampler(backend="gpu")
    with pytest.raises(ValueError, match="port"):
        PBitSampler().sample(bqm, backend="serial")
    # a port that does not exist: the serial backend's own message
    with pytest.raises(RuntimeError, match="serial backend: /dev/pbit-no-such-port"):
        PBitSampler(backend="serial", port="/dev/pbit-no-such-port").sample(bqm, num_reads=1)
    with pytest.raises(ValueError, match="sparse"):
        PBitSampler(backend="verilator", machine="sparse").sample(bqm)
    # a β the machine cannot hold after scaling
    with pytest.raises(ValueError, match="beta"):
        PBitSampler().sample(bqm, beta_range=(1e-9, 1.0))
    nan = dimod.BinaryQuadraticModel({"a": float("nan")}, {}, 0, "SPIN")
    with pytest.raises(ValueError, match="not finite"):
        PBitSampler().sample(nan)


def test_samplers_and_results_pickle():
    bqm = random_bqm(12, 0.5, 9)
    sampler = PBitSampler(machine="sparse", threads=2)
    clone = pickle.loads(pickle.dumps(sampler))
    assert (clone.machine, clone.threads) == ("sparse", 2)
    ss = sampler.sample(bqm, num_reads=3, seed=4, num_sweeps=20)
    back = pickle.loads(pickle.dumps(ss))
    np.testing.assert_array_equal(rows(back), rows(ss))
    assert back.info["beta_schedule"] == ss.info["beta_schedule"]
    np.testing.assert_array_equal(rows(clone.sample(bqm, num_reads=3, seed=4, num_sweeps=20)), rows(ss))


def long_bqm():
    return random_bqm(300, 0.5, 10)


def test_the_gil_is_released_while_sampling():
    # a Python thread keeps running while the main thread samples (it could not with the GIL)
    bqm = long_bqm()
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.005)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        start = time.perf_counter()
        # ~0.3 s of Rust (30,000 sweeps took 0.099 s once the kernel got faster)
        ss = PBitSampler(threads=1).sample(bqm, num_reads=2, num_sweeps=100_000, seed=1)
        end = time.perf_counter()
    finally:
        stop.set()
        t.join()
    rust = ss.info["timing"]["rust_call_s"]
    during = [x for x in ticks if start < x < end]
    # ~200 ticks/s when free; demand a fifth of that over the call
    assert rust > 0.1, "the run is too short to show anything"
    assert len(during) >= 40 * rust, (len(during), rust)


def test_ctrl_c_stops_a_long_run_quickly():
    bqm = long_bqm()
    fired = []

    def interrupt():
        time.sleep(1.0)
        fired.append(time.perf_counter())
        _thread.interrupt_main()

    # Python started with SIGINT ignored (a background job of a shell without job control, as
    # CI scripts may be) keeps it ignored, and then `interrupt_main` does nothing: the test
    # installs Python's own handler, as an interactive user has it
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    t = threading.Thread(target=interrupt)
    t.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            # ~30 s if it ran to the end
            PBitSampler().sample(bqm, num_reads=8, num_sweeps=10_000_000, seed=1)
        stopped = time.perf_counter()
    finally:
        t.join()
        signal.signal(signal.SIGINT, previous)
    assert stopped - fired[0] < 0.5, stopped - fired[0]
    # the sampler still works afterwards
    PBitSampler().sample(bqm, num_reads=1, num_sweeps=5, seed=1)


def test_sigint_in_a_real_process():
    # a real SIGINT to a Python process sampling: KeyboardInterrupt, well before the run's end
    code = textwrap.dedent(
        """
        import signal, sys, time, dimod, numpy as np
        from pbit import PBitSampler
        # a SIGINT ignored by the parent's shell stays ignored here: take Python's handler
        signal.signal(signal.SIGINT, signal.default_int_handler)
        rng = np.random.default_rng(0)
        bqm = dimod.BinaryQuadraticModel({i: 0.0 for i in range(200)}, {(i, j): rng.uniform(-1, 1) for i in range(200) for j in range(i + 1, 200)}, 0, "SPIN")
        print("ready", flush=True)
        try:
            PBitSampler().sample(bqm, num_reads=4, num_sweeps=10_000_000, seed=1)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        """
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    sent = time.perf_counter()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    took = time.perf_counter() - sent
    assert p.returncode == 3 and "interrupted" in out, (p.returncode, out)
    assert took < 2.0, took  # process exit included


@pytest.mark.skipif(not verilator_available(), reason="needs verilator and g++")
def test_verilator_backend_gives_the_models_samples():
    bqm = random_bqm(12, 0.6, 11)
    kwargs = dict(num_reads=3, num_sweeps=40, seed=21, first_read=5)
    model = PBitSampler().sample(bqm, **kwargs)
    sim = PBitSampler(backend="verilator").sample(bqm, **kwargs)
    assert sim.info["backend"] == "verilator"
    np.testing.assert_array_equal(rows(sim), rows(model))
    init = np.random.default_rng(2).choice([-1, 1], size=(2, 12)).astype(np.int8)
    kwargs = dict(initial_states=(init, list(bqm.variables)), num_sweeps=20, seed=4)
    np.testing.assert_array_equal(
        rows(PBitSampler(backend="verilator").sample(bqm, **kwargs)),
        rows(PBitSampler().sample(bqm, **kwargs)),
    )


def pbit_binary():
    from conftest import REPO

    path = os.environ.get("PBIT_BIN") or str(REPO / "target" / "release" / "pbit")
    return path if os.path.exists(path) else None


@pytest.mark.skipif(
    not verilator_available() or pbit_binary() is None,
    reason="needs verilator, g++ and the pbit binary (target/release/pbit or $PBIT_BIN)",
)
def test_serial_backend_on_the_simulated_board_gives_the_models_samples():
    # `pbit sim serve`: the Verilated core top behind a pty, spoken to over the wire protocol
    p = subprocess.Popen(
        [pbit_binary(), "sim", "serve", "--n", "32"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        port = p.stdout.readline().strip()
        assert port.startswith("/dev/"), port
        bqm = random_bqm(10, 0.6, 14)
        kwargs = dict(num_reads=2, num_sweeps=15, seed=8, first_read=3)
        board = PBitSampler(backend="serial", port=port).sample(bqm, **kwargs)
        assert board.info["backend"] == "serial"
        np.testing.assert_array_equal(rows(board), rows(PBitSampler().sample(bqm, **kwargs)))
        # an instance larger than the device: the device's limit, as a RuntimeError
        with pytest.raises(RuntimeError, match="33 p-bits"):
            PBitSampler(backend="serial", port=port).sample(random_bqm(33, 0.1, 1), num_reads=1)
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
