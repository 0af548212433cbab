//! Circuits by named nets, compiled to one Ising instance.
//!
//! Every net is one p-bit (a net shared by several gates is one shared p-bit), and every gate
//! adds its auxiliary p-bits. The circuit's penalty is the sum of its gates' penalties (constant
//! inputs substituted), so its zeros — the ground states — are exactly the consistent
//! assignments, and the composed ground energy is the sum of the gates' ground energies.
//!
//! Values: gate penalties have integer coefficients, so J and h are multiples of 1/4; where
//! gates share a net their biases add. If a sum leaves the machine's range (|J| ≤ 15.9375,
//! |h| ≤ 63.9375) the whole circuit is scaled by the largest power of two 2^-k that brings it
//! in range while staying on the 1/16 grid, and [`Compiled::scale`] says so.

use crate::gates::GateKind;
use crate::poly::{Poly, Value};
use pbit_model::Ising;
use pbit_spec::Format;
use std::collections::HashMap;

/// A net: one p-bit. The index is the p-bit's index in the compiled instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Net(pub usize);

/// A gate input: a net or a constant bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    Net(Net),
    Const(bool),
}

impl From<Net> for Signal {
    fn from(n: Net) -> Signal {
        Signal::Net(n)
    }
}

/// Direction of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Input,
    Output,
    Inout,
}

/// A named bus of signals, bit 0 the least significant.
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    pub name: String,
    pub direction: Direction,
    pub bits: Vec<Signal>,
}

/// One gate in a circuit.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub kind: GateKind,
    /// Inputs then outputs, in the order of the gate's pins.
    pub pins: Vec<Signal>,
    /// The gate's auxiliary p-bits.
    pub aux: Vec<Net>,
    /// Multiplies the gate's penalty (1 unless chosen otherwise).
    pub weight: i64,
}

/// Why a circuit cannot be built, compiled or clamped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CircuitError {
    #[error("net `{net}` is driven by two gates ({first} and {second})")]
    MultipleDrivers {
        net: String,
        first: String,
        second: String,
    },
    #[error("{kind:?} gate takes {expected} inputs and outputs, got {found}")]
    PinCount {
        kind: GateKind,
        expected: usize,
        found: usize,
    },
    #[error("gate outputs must be nets, not constants ({kind:?} gate)")]
    ConstantOutput { kind: GateKind },
    #[error("gate weight must be at least 1, got {0}")]
    BadWeight(i64),
    #[error("port `{0}` is defined twice")]
    DuplicatePort(String),
    #[error("no port named `{name}` (ports: {known})")]
    UnknownPort { name: String, known: String },
    #[error("value {value} does not fit port `{name}` ({width} bits: at most {max})")]
    ValueTooWide {
        name: String,
        value: u64,
        width: usize,
        max: u64,
    },
    #[error("port `{name}` is {width} bits wide; values wider than 64 bits are not supported")]
    PortTooWide { name: String, width: usize },
    #[error("a state of {len} spins does not reach p-bit {index} of port `{name}`")]
    ShortState {
        name: String,
        index: usize,
        len: usize,
    },
    #[error("clamp `{0}` must look like NAME=VALUE (VALUE a non-negative decimal integer)")]
    ClampSyntax(String),
    #[error("port `{0}` is clamped twice")]
    DuplicateClamp(String),
    #[error("clamping `{name}` to {value} contradicts {reason}")]
    Conflict {
        name: String,
        value: u64,
        reason: String,
    },
    #[error("a value of {value} (after sharing nets) cannot be held by the machine's fixed point (J {bits} bits at 1/16) under any power-of-two scale")]
    OutOfRange { value: f64, bits: u32 },
}

/// A gate-level circuit under construction.
#[derive(Clone, Debug, Default)]
pub struct Circuit {
    names: Vec<String>,
    by_name: HashMap<String, Net>,
    driver: Vec<Option<usize>>,
    gates: Vec<Instance>,
    ports: Vec<Port>,
}

impl Circuit {
    pub fn new() -> Circuit {
        Circuit::default()
    }

    /// The net called `name`, created if new.
    pub fn net(&mut self, name: &str) -> Net {
        if let Some(&n) = self.by_name.get(name) {
            return n;
        }
        let n = self.fresh(name);
        self.by_name.insert(name.to_string(), n);
        n
    }

    /// A new net; `hint` names it in reports (it is not looked up by name).
    pub fn fresh(&mut self, hint: &str) -> Net {
        let n = Net(self.names.len());
        self.names.push(format!("{hint}#{}", n.0));
        self.driver.push(None);
        n
    }

    /// `width` new nets named `name[0]`, …, as a bus (bit 0 first).
    pub fn bus(&mut self, name: &str, width: usize) -> Vec<Net> {
        (0..width)
            .map(|k| self.net(&format!("{name}[{k}]")))
            .collect()
    }

    /// A net's name.
    pub fn name(&self, n: Net) -> &str {
        &self.names[n.0]
    }

    /// Number of nets (p-bits), auxiliaries included.
    pub fn pbits(&self) -> usize {
        self.names.len()
    }

    pub fn gates(&self) -> &[Instance] {
        &self.gates
    }

    pub fn ports(&self) -> &[Port] {
        &self.ports
    }

    /// Adds a gate with unit weight: `inputs` in the order of [`GateKind::inputs`], `outputs`
    /// in the order of [`GateKind::outputs`]. Its auxiliary p-bits are created here.
    pub fn gate(
        &mut self,
        kind: GateKind,
        inputs: &[Signal],
        outputs: &[Net],
    ) -> Result<(), CircuitError> {
        self.gate_weighted(kind, inputs, outputs, 1)
    }

    /// [`Circuit::gate`] with the penalty multiplied by `weight` (≥ 1).
    pub fn gate_weighted(
        &mut self,
        kind: GateKind,
        inputs: &[Signal],
        outputs: &[Net],
        weight: i64,
    ) -> Result<(), CircuitError> {
        let expected = kind.inputs().len() + kind.outputs().len();
        if inputs.len() != kind.inputs().len() || outputs.len() != kind.outputs().len() {
            return Err(CircuitError::PinCount {
                kind,
                expected,
                found: inputs.len() + outputs.len(),
            });
        }
        if weight < 1 {
            return Err(CircuitError::BadWeight(weight));
        }
        let index = self.gates.len();
        for &o in outputs {
            if let Some(first) = self.driver[o.0] {
                return Err(CircuitError::MultipleDrivers {
                    net: self.names[o.0].clone(),
                    first: format!("gate {first} ({:?})", self.gates[first].kind),
                    second: format!("gate {index} ({kind:?})"),
                });
            }
        }
        for &o in outputs {
            self.driver[o.0] = Some(index);
        }
        let aux = (0..kind.aux())
            .map(|k| self.fresh(&format!("g{index}.aux{k}")))
            .collect();
        let mut pins: Vec<Signal> = inputs.to_vec();
        pins.extend(outputs.iter().map(|&o| Signal::Net(o)));
        self.gates.push(Instance {
            kind,
            pins,
            aux,
            weight,
        });
        Ok(())
    }

    /// Adds a gate whose single output is a new net, and returns it.
    pub fn output_of(&mut self, kind: GateKind, inputs: &[Signal], hint: &str) -> Net {
        let y = self.fresh(hint);
        self.gate(kind, inputs, &[y])
            .expect("a fresh output has no other driver");
        y
    }

    /// Declares a port (a named bus, bit 0 first).
    pub fn add_port(
        &mut self,
        name: &str,
        direction: Direction,
        bits: Vec<Signal>,
    ) -> Result<(), CircuitError> {
        if self.ports.iter().any(|p| p.name == name) {
            return Err(CircuitError::DuplicatePort(name.to_string()));
        }
        self.ports.push(Port {
            name: name.to_string(),
            direction,
            bits,
        });
        Ok(())
    }

    /// The summed penalty over nets (p-bit indices).
    pub fn penalty(&self) -> Poly {
        let mut total = Poly::new();
        for g in &self.gates {
            let local = g.kind.penalty();
            let np = g.pins.len();
            let p = local.substitute(|v| {
                if v < np {
                    match g.pins[v] {
                        Signal::Net(n) => Value::Var(n.0),
                        Signal::Const(b) => Value::Const(b),
                    }
                } else {
                    Value::Var(g.aux[v - np].0)
                }
            });
            total.add_poly(g.weight, &p);
        }
        total
    }

    /// Compiles the circuit to an Ising instance the machine's `format` holds exactly.
    pub fn compile(&self, format: &Format) -> Result<Compiled, CircuitError> {
        let exact = penalty_to_ising(&self.penalty(), self.pbits(), format)?;
        let min_weight = self.gates.iter().map(|g| g.weight).min().unwrap_or(1);
        Ok(Compiled {
            circuit: self.clone(),
            ising: exact.ising,
            scale: exact.scale,
            ground_energy: exact.zero_energy,
            gap: min_weight as f64 * exact.scale,
        })
    }
}

/// A penalty as an Ising instance the machine holds exactly.
#[derive(Clone, Debug)]
pub struct ExactIsing {
    pub ising: Ising,
    /// Values were multiplied by this power of two (1 unless sums left the range).
    pub scale: f64,
    /// The Ising energy of every state where the penalty is 0.
    pub zero_energy: f64,
}

/// The Ising form of a penalty over `n` p-bits, scaled by the largest power of two 2^-k ≤ 1
/// that brings every J and h into `format`'s range while staying on its grid.
pub fn penalty_to_ising(
    penalty: &Poly,
    n: usize,
    format: &Format,
) -> Result<ExactIsing, CircuitError> {
    let q = penalty.ising_quarters(n);
    // values in machine units (1/2^frac_bits) are per_quarter·quarters; 2^-k divides them
    let j_max = format.j_max_raw() as i64;
    let h_max = format.h_max_raw() as i64;
    let per_quarter = (1i64 << format.frac_bits) / 4;
    let big_j = q.j.iter().map(|t| t.2.abs()).max().unwrap_or(0) * per_quarter;
    let big_h = q.h.iter().map(|v| v.abs()).max().unwrap_or(0) * per_quarter;
    let mut k = 0u32;
    while big_j >> k > j_max || big_h >> k > h_max {
        k += 1;
    }
    let on_grid =
        q.j.iter()
            .map(|t| t.2)
            .chain(q.h.iter().copied())
            .all(|v| (v * per_quarter) % (1i64 << k) == 0);
    if k > 62 || !on_grid {
        return Err(CircuitError::OutOfRange {
            value: big_j.max(big_h) as f64 / format.one() as f64,
            bits: format.j_bits,
        });
    }
    let scale = 1.0 / (1u64 << k) as f64;
    let mut ising = Ising::new(n);
    for &(i, j, v) in &q.j {
        ising.add_coupling(i, j, v as f64 / 4.0 * scale);
    }
    for (i, &v) in q.h.iter().enumerate() {
        ising.h[i] = v as f64 / 4.0 * scale;
    }
    ising.source = "<circuit>".into();
    Ok(ExactIsing {
        ising,
        scale,
        zero_energy: -(q.offset as f64) / 4.0 * scale,
    })
}

/// A circuit compiled to an Ising instance.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub circuit: Circuit,
    /// p-bit i is net i.
    pub ising: Ising,
    /// Every value was multiplied by this power of two (1 unless sums left the range); run the
    /// machine at β/scale for the β of the unscaled circuit.
    pub scale: f64,
    /// The energy of every consistent assignment (and of nothing else).
    pub ground_energy: f64,
    /// The least energy above the ground energy any inconsistent assignment has (a lower bound:
    /// the smallest gate weight times the scale).
    pub gap: f64,
}

impl Compiled {
    /// The port called `name`, or an error listing the ports.
    pub fn port(&self, name: &str) -> Result<&Port, CircuitError> {
        self.circuit
            .ports
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| CircuitError::UnknownPort {
                name: name.to_string(),
                known: self
                    .circuit
                    .ports
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Clamp list (0-based p-bit, value) setting each named port to a value; bit k of the
    /// value goes to bit k of the port. Constant bits must agree with the value.
    pub fn clamps(&self, values: &[(&str, u64)]) -> Result<Vec<(usize, bool)>, CircuitError> {
        let mut out: Vec<(usize, bool)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for &(name, value) in values {
            if seen.contains(&name) {
                return Err(CircuitError::DuplicateClamp(name.to_string()));
            }
            seen.push(name);
            let port = self.port(name)?;
            let width = port.bits.len();
            let max = if width >= 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            if value > max {
                return Err(CircuitError::ValueTooWide {
                    name: name.to_string(),
                    value,
                    width,
                    max,
                });
            }
            for (k, &bit) in port.bits.iter().enumerate() {
                let b = k < 64 && value >> k & 1 == 1;
                match bit {
                    Signal::Const(c) if c != b => {
                        return Err(CircuitError::Conflict {
                            name: name.to_string(),
                            value,
                            reason: format!("bit {k}, which is the constant {}", c as u8),
                        })
                    }
                    Signal::Const(_) => {}
                    Signal::Net(n) => {
                        if let Some(&(_, v)) = out.iter().find(|c| c.0 == n.0) {
                            if v != b {
                                return Err(CircuitError::Conflict {
                                    name: name.to_string(),
                                    value,
                                    reason: format!(
                                        "another clamp of net `{}`",
                                        self.circuit.name(n)
                                    ),
                                });
                            }
                        } else {
                            out.push((n.0, b));
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Parses `name=value,…` (decimal values) and returns the clamp list.
    pub fn clamps_from_text(&self, text: &str) -> Result<Vec<(usize, bool)>, CircuitError> {
        let values = parse_assignments(text)?;
        let refs: Vec<(&str, u64)> = values.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        self.clamps(&refs)
    }

    /// The value a state gives a port (`spins[i]` true = 1).
    pub fn port_value(&self, spins: &[bool], name: &str) -> Result<u64, CircuitError> {
        let port = self.port(name)?;
        port_value(port, spins)
    }

    /// Every port's value in a state, in port order.
    pub fn port_values(&self, spins: &[bool]) -> Result<Vec<(String, u64)>, CircuitError> {
        self.circuit
            .ports
            .iter()
            .map(|p| Ok((p.name.clone(), port_value(p, spins)?)))
            .collect()
    }

    /// Whether every gate (auxiliaries included) is consistent in a state: exactly the states
    /// at the ground energy.
    pub fn consistent(&self, spins: &[bool]) -> bool {
        self.circuit.gates.iter().all(|g| {
            let ni = g.kind.inputs().len();
            let bit = |s: &Signal| match *s {
                Signal::Net(n) => spins[n.0],
                Signal::Const(b) => b,
            };
            let inputs: Vec<bool> = g.pins[..ni].iter().map(bit).collect();
            let want = g.kind.eval(&inputs);
            let have = g.pins[ni..]
                .iter()
                .map(bit)
                .chain(g.aux.iter().map(|a| spins[a.0]));
            want.into_iter().eq(have)
        })
    }
}

fn port_value(port: &Port, spins: &[bool]) -> Result<u64, CircuitError> {
    if port.bits.len() > 64 {
        return Err(CircuitError::PortTooWide {
            name: port.name.clone(),
            width: port.bits.len(),
        });
    }
    let mut value = 0u64;
    for (k, s) in port.bits.iter().enumerate() {
        // a state from a backend is checked here, not trusted: short is an error
        let b = match *s {
            Signal::Net(n) => *spins.get(n.0).ok_or_else(|| CircuitError::ShortState {
                name: port.name.clone(),
                index: n.0,
                len: spins.len(),
            })?,
            Signal::Const(b) => b,
        };
        value |= (b as u64) << k;
    }
    Ok(value)
}

/// Parses `name=value,…` with non-negative decimal values.
pub fn parse_assignments(text: &str) -> Result<Vec<(String, u64)>, CircuitError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (n, v) = item
                .split_once('=')
                .ok_or_else(|| CircuitError::ClampSyntax(item.to_string()))?;
            let v: u64 = v
                .trim()
                .parse()
                .map_err(|_| CircuitError::ClampSyntax(item.to_string()))?;
            let n = n.trim();
            if n.is_empty() {
                return Err(CircuitError::ClampSyntax(item.to_string()));
            }
            Ok((n.to_string(), v))
        })
        .collect()
}
