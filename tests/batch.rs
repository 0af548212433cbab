//! The batch engine on the Verilated gateware: relax jobs run as device batches (on-chip
//! seeding, the chain buffer, the correlation sums) give exactly the model's final states and
//! sums — `pbit_model::jobs::relax_chain`, the relax contract, chain by chain — whatever the
//! batch's size (split at the buffer's capacity), n (sums on or off the device) or what is
//! read back. Needs verilator and g++ (scripts/test-all.sh installs them).

use pbit_driver::{Bus, Cached, Driver};
use pbit_model::jobs::{relax_chain, RelaxJob};
use pbit_model::run::correlation_sums;
use pbit_tests::instance;

use pbit_sim::VerilatedMachine;
use pbit_spec::memory_map as mm;
use pbit_spec::{Beta, ThresholdPage};

fn states(chains: usize, n: usize, seed: u64) -> Vec<Vec<bool>> {
    (0..chains)
        .map(|c| {
            (0..n)
                .map(|i| pbit_spec::rng::pbit_hash(seed, c as u64, i as u64) & 1 == 1)
                .collect()
        })
        .collect()
}

/// The model's finals for a job (the relax contract, chain by chain).
fn model_finals(job: &RelaxJob) -> Vec<Vec<bool>> {
    (0..job.initial.len())
        .map(|c| relax_chain(job, c))
        .collect()
}

#[test]
fn device_batches_equal_the_model_chain_by_chain() {
    let mut vm = VerilatedMachine::build(64).expect("build the Verilated machine");
    let (size, format) = (vm.n(), vm.format());
    let mut m = Driver::new(&mut vm, size, format);
    let caps = m.batch_caps().unwrap();
    assert!(caps.present(), "the Verilated machine has the batch engine");
    assert_eq!(caps.chains, 1024);
    assert!(caps.sums_n >= 32, "{caps:?}");
    let page = ThresholdPage::build(&format, Beta::from_f64(0.8).unwrap());
    // n = 17 (bars and stripes' size), k = 5, a clamp; n = 5 (the full adder's), k = 1, more
    // chains than the buffer holds (two device batches); n = 40 (two state words), no clamp
    for (n, chains, sweeps, clamped, seed) in [
        (17usize, 300usize, 5u64, vec![0usize, 3, 16], 11u64),
        (5, 1500, 1, vec![1], 12),
        (40, 70, 3, vec![], 13),
    ] {
        let p = instance(n, seed);
        let initial = states(chains, n, seed);
        let job = RelaxJob {
            problem: &p,
            clamped: &clamped,
            page: &page,
            seed,
            first_read: 5 << 20,
            initial: &initial,
            sweeps,
        };
        let want = model_finals(&job);
        let want_sums = correlation_sums(&want, n);
        // sums only: formed on the device
        let r = m
            .relax_batch(
                caps,
                &p,
                &clamped,
                &page,
                seed,
                job.first_read,
                &initial,
                sweeps,
                false,
                true,
            )
            .unwrap();
        assert!(r.on_device);
        assert_eq!(r.finals, None);
        assert_eq!(r.sums.as_ref(), Some(&want_sums), "n = {n}: sums");
        // finals and sums: the finals read back, the sums formed from them
        let r = m
            .relax_batch(
                caps,
                &p,
                &clamped,
                &page,
                seed,
                job.first_read,
                &initial,
                sweeps,
                true,
                true,
            )
            .unwrap();
        assert!(r.on_device);
        assert_eq!(r.finals.as_ref(), Some(&want), "n = {n}: finals");
        assert_eq!(r.sums.as_ref(), Some(&want_sums));
        assert!(r.clocks > 0);
    }
}

/// Beyond the engine's sums limit the finals come back and the sums are formed on the host;
/// the results are the same.
#[test]
fn device_batches_beyond_the_sums_limit_equal_the_model() {
    let mut vm = VerilatedMachine::build(128).expect("build the Verilated machine");
    let (size, format) = (vm.n(), vm.format());
    let mut m = Driver::new(&mut vm, size, format);
    let caps = m.batch_caps().unwrap();
    let n = caps.sums_n + 6;
    assert!(n <= size, "{caps:?}");
    let page = ThresholdPage::build(&format, Beta::from_f64(0.5).unwrap());
    let p = instance(n, 21);
    let initial = states(40, n, 21);
    let clamped = vec![2, n - 1];
    let job = RelaxJob {
        problem: &p,
        clamped: &clamped,
        page: &page,
        seed: 21,
        first_read: 77,
        initial: &initial,
        sweeps: 2,
    };
    let want = model_finals(&job);
    let r = m
        .relax_batch(caps, &p, &clamped, &page, 21, 77, &initial, 2, false, true)
        .unwrap();
    assert!(r.on_device);
    assert_eq!(r.sums, Some(correlation_sums(&want, n)));
}

/// Through a caching bus, a batch that starts from the last batch's finals (read back) sends
/// no states: CD's negative phase after its positive phase.
#[test]
fn a_batch_from_the_last_finals_sends_no_states() {
    let mut vm = VerilatedMachine::build(32).expect("build the Verilated machine");
    let (size, format) = (vm.n(), vm.format());
    let mut bus = Cached::new(&mut vm);
    let page = ThresholdPage::build(&format, Beta::from_f64(1.0).unwrap());
    let n = 9;
    let p = instance(n, 31);
    let initial = states(200, n, 31);
    let visible = vec![0, 1, 2, 3];
    let (finals, skipped_before) = {
        let mut m = Driver::new(&mut bus, size, format);
        let caps = m.batch_caps().unwrap();
        let r = m
            .relax_batch(caps, &p, &visible, &page, 31, 0, &initial, 1, true, false)
            .unwrap();
        (r.finals.unwrap(), m.bus().stats.words_skipped)
    };
    let job = RelaxJob {
        problem: &p,
        clamped: &[],
        page: &page,
        seed: 31,
        first_read: 1 << 20,
        initial: &finals,
        sweeps: 3,
    };
    let want = correlation_sums(&model_finals(&job), n);
    let mut m = Driver::new(&mut bus, size, format);
    let caps = m.batch_caps().unwrap();
    let r = m
        .relax_batch(caps, &p, &[], &page, 31, 1 << 20, &finals, 3, false, true)
        .unwrap();
    assert_eq!(r.sums, Some(want));
    // the 200 state words were known to the cache (plus the unchanged J, h and page)
    let skipped = m.bus().stats.words_skipped - skipped_before;
    assert!(skipped >= 200, "{skipped}");
    // and a batch changes the buffer: the same initial states again are sent again
    m.bus()
        .write(mm::reg(mm::REG_CTRL), &[mm::CTRL_BATCH])
        .unwrap();
    // (a bus read is one clock here: let the start land, then wait for the batch's end)
    for _ in 0..8 {
        m.bus().read(mm::reg(mm::REG_STATUS), 1).unwrap();
    }
    while m.bus().read(mm::reg(mm::REG_STATUS), 1).unwrap()[0] & mm::STATUS_BUSY != 0 {}
    let before = m.bus().stats.words_written;
    let r = m
        .relax_batch(caps, &p, &[], &page, 31, 1 << 20, &finals, 3, false, true)
        .unwrap();
    assert!(r.sums.is_some());
    assert!(m.bus().stats.words_written - before >= 200);
}
