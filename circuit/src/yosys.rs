//! Gate-level netlists in yosys' JSON format (`write_json`).
//!
//! Make one from any small combinational Verilog module with
//!
//! ```text
//! yosys -p "read_verilog T.v; synth -top T; abc -g AND,OR,XOR,MUX; write_json T.json"
//! ```
//!
//! Supported cells: `$_BUF_`, `$_NOT_`, `$_AND_`, `$_NAND_`, `$_OR_`, `$_NOR_`, `$_XOR_`,
//! `$_XNOR_`, `$_ANDNOT_`, `$_ORNOT_`, `$_MUX_`, `$_NMUX_` (what `abc -g` emits for those gate
//! sets). Bits are yosys' net numbers (one p-bit each) or the constants `"0"` and `"1"`; an
//! undefined bit (`"x"`, `"z"`) becomes a free p-bit. Ports keep their names and bit order
//! (bit 0 first). The top module is the one marked `top`, else the only module.

use crate::circuit::{Circuit, CircuitError, Direction, Signal};
use crate::gates::GateKind;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// What is wrong with a netlist.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetlistErrorKind {
    #[error("cannot read file: {0}")]
    Io(String),
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("`{field}` is missing or not {expected}")]
    Field {
        field: String,
        expected: &'static str,
    },
    #[error("no module named `{0}`")]
    NoSuchModule(String),
    #[error("{0} modules and none marked top; which one? ({1})")]
    NoTop(usize, String),
    #[error("the netlist has no modules")]
    NoModules,
    #[error("cell `{cell}` has type `{cell_type}`, which is not a supported combinational gate (use `abc -g AND,OR,XOR,MUX` after synth)")]
    UnsupportedCell { cell: String, cell_type: String },
    #[error("cell `{cell}` ({cell_type}) lacks a one-bit connection `{pin}`")]
    Pin {
        cell: String,
        cell_type: String,
        pin: String,
    },
    #[error("`{field}`: bit {value} is neither a net number nor \"0\", \"1\", \"x\", \"z\"")]
    BadBit { field: String, value: String },
    #[error("cell `{cell}`: output bit is the constant {value}")]
    ConstantOutput { cell: String, value: String },
    #[error("port `{0}` has direction `{1}` (expected input, output or inout)")]
    Direction(String, String),
    #[error(transparent)]
    Circuit(#[from] CircuitError),
}

/// A netlist error with the file it came from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}: {kind}")]
pub struct NetlistError {
    pub source_name: String,
    pub kind: NetlistErrorKind,
}

/// Reads a yosys JSON netlist file; `top` picks a module by name.
pub fn read(path: &Path, top: Option<&str>) -> Result<Circuit, NetlistError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| NetlistError {
        source_name: name.clone(),
        kind: NetlistErrorKind::Io(e.to_string()),
    })?;
    parse(&text, &name, top)
}

/// Parses yosys JSON; `source_name` names it in errors.
pub fn parse(text: &str, source_name: &str, top: Option<&str>) -> Result<Circuit, NetlistError> {
    parse_inner(text, top).map_err(|kind| NetlistError {
        source_name: source_name.to_string(),
        kind,
    })
}

fn field(path: &str, expected: &'static str) -> NetlistErrorKind {
    NetlistErrorKind::Field {
        field: path.to_string(),
        expected,
    }
}

fn is_top(m: &Value) -> bool {
    match m.get("attributes").and_then(|a| a.get("top")) {
        Some(Value::String(s)) => s.chars().any(|c| c != '0'),
        Some(Value::Number(n)) => n.as_u64() != Some(0),
        _ => false,
    }
}

struct Bits<'a> {
    circuit: &'a mut Circuit,
    nets: HashMap<u64, crate::circuit::Net>,
}

impl Bits<'_> {
    fn signal(&mut self, v: &Value, path: &str) -> Result<Signal, NetlistErrorKind> {
        match v {
            Value::Number(n) => {
                let id = n.as_u64().ok_or_else(|| NetlistErrorKind::BadBit {
                    field: path.to_string(),
                    value: n.to_string(),
                })?;
                let circuit = &mut *self.circuit;
                Ok(Signal::Net(
                    *self
                        .nets
                        .entry(id)
                        .or_insert_with(|| circuit.fresh(&format!("n{id}"))),
                ))
            }
            Value::String(s) if s == "0" => Ok(Signal::Const(false)),
            Value::String(s) if s == "1" => Ok(Signal::Const(true)),
            Value::String(s) if s == "x" || s == "z" => {
                Ok(Signal::Net(self.circuit.fresh("undefined")))
            }
            other => Err(NetlistErrorKind::BadBit {
                field: path.to_string(),
                value: other.to_string(),
            }),
        }
    }

    fn bus(&mut self, v: Option<&Value>, path: &str) -> Result<Vec<Signal>, NetlistErrorKind> {
        let arr = v
            .and_then(Value::as_array)
            .ok_or_else(|| field(path, "an array of bits"))?;
        arr.iter()
            .enumerate()
            .map(|(k, b)| self.signal(b, &format!("{path}[{k}]")))
            .collect()
    }
}

fn parse_inner(text: &str, top: Option<&str>) -> Result<Circuit, NetlistErrorKind> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| NetlistErrorKind::Json(e.to_string()))?;
    let modules = doc
        .get("modules")
        .and_then(Value::as_object)
        .ok_or_else(|| field("modules", "an object"))?;
    if modules.is_empty() {
        return Err(NetlistErrorKind::NoModules);
    }
    let (mname, module) = match top {
        Some(t) => (
            t.to_string(),
            modules
                .get(t)
                .ok_or_else(|| NetlistErrorKind::NoSuchModule(t.to_string()))?,
        ),
        None => {
            let tops: Vec<_> = modules.iter().filter(|(_, m)| is_top(m)).collect();
            if tops.len() == 1 {
                (tops[0].0.clone(), tops[0].1)
            } else if modules.len() == 1 {
                let (k, v) = modules.iter().next().expect("one module");
                (k.clone(), v)
            } else {
                return Err(NetlistErrorKind::NoTop(
                    modules.len(),
                    modules.keys().cloned().collect::<Vec<_>>().join(", "),
                ));
            }
        }
    };
    let mut circuit = Circuit::new();
    let mut bits = Bits {
        circuit: &mut circuit,
        nets: HashMap::new(),
    };
    let mpath = format!("modules.{mname}");

    let ports = module
        .get("ports")
        .and_then(Value::as_object)
        .ok_or_else(|| field(&format!("{mpath}.ports"), "an object"))?;
    let mut port_list = Vec::new();
    for (pname, port) in ports {
        let ppath = format!("{mpath}.ports.{pname}");
        let dir = port
            .get("direction")
            .and_then(Value::as_str)
            .ok_or_else(|| field(&format!("{ppath}.direction"), "a string"))?;
        let direction = match dir {
            "input" => Direction::Input,
            "output" => Direction::Output,
            "inout" => Direction::Inout,
            d => return Err(NetlistErrorKind::Direction(pname.clone(), d.to_string())),
        };
        let b = bits.bus(port.get("bits"), &format!("{ppath}.bits"))?;
        port_list.push((pname.clone(), direction, b));
    }

    let empty = serde_json::Map::new();
    let cells = match module.get("cells") {
        None => &empty,
        Some(c) => c
            .as_object()
            .ok_or_else(|| field(&format!("{mpath}.cells"), "an object"))?,
    };
    for (cname, cell) in cells {
        let cpath = format!("{mpath}.cells.{cname}");
        let ctype = cell
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| field(&format!("{cpath}.type"), "a string"))?;
        let kind =
            GateKind::from_yosys(ctype).ok_or_else(|| NetlistErrorKind::UnsupportedCell {
                cell: cname.clone(),
                cell_type: ctype.to_string(),
            })?;
        let conns = cell
            .get("connections")
            .and_then(Value::as_object)
            .ok_or_else(|| field(&format!("{cpath}.connections"), "an object"))?;
        let mut pin = |p: &str| -> Result<Signal, NetlistErrorKind> {
            let err = || NetlistErrorKind::Pin {
                cell: cname.clone(),
                cell_type: ctype.to_string(),
                pin: p.to_string(),
            };
            let arr = conns.get(p).and_then(Value::as_array).ok_or_else(err)?;
            if arr.len() != 1 {
                return Err(err());
            }
            bits.signal(&arr[0], &format!("{cpath}.connections.{p}"))
        };
        let inputs = kind
            .inputs()
            .iter()
            .map(|p| pin(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut outputs = Vec::new();
        for p in kind.outputs() {
            match pin(p)? {
                Signal::Net(n) => outputs.push(n),
                Signal::Const(b) => {
                    return Err(NetlistErrorKind::ConstantOutput {
                        cell: cname.clone(),
                        value: (b as u8).to_string(),
                    })
                }
            }
        }
        bits.circuit.gate(kind, &inputs, &outputs)?;
    }
    for (name, direction, b) in port_list {
        circuit.add_port(&name, direction, b)?;
    }
    Ok(circuit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> NetlistErrorKind {
        parse(text, "t.json", None).unwrap_err().kind
    }

    #[test]
    fn errors_name_the_field() {
        assert!(matches!(kind("{"), NetlistErrorKind::Json(_)));
        assert!(matches!(kind("{}"), NetlistErrorKind::Field { .. }));
        assert_eq!(kind(r#"{"modules":{}}"#), NetlistErrorKind::NoModules);
        let cell = |t: &str, conn: &str| {
            format!(
                r#"{{"modules":{{"m":{{"ports":{{"a":{{"direction":"input","bits":[2]}}}},
                "cells":{{"c1":{{"type":"{t}","connections":{{{conn}}}}}}}}}}}}}"#
            )
        };
        assert!(matches!(
            kind(&cell("$_DFF_P_", r#""C":[2]"#)),
            NetlistErrorKind::UnsupportedCell { .. }
        ));
        assert!(matches!(
            kind(&cell("$_AND_", r#""A":[2],"Y":[3]"#)),
            NetlistErrorKind::Pin { ref pin, .. } if pin == "B"
        ));
        assert!(matches!(
            kind(&cell("$_NOT_", r#""A":[2],"Y":[true]"#)),
            NetlistErrorKind::BadBit { .. }
        ));
        let e = parse(&cell("$_NOT_", r#""A":[2],"Y":["1"]"#), "x.json", None).unwrap_err();
        assert!(e.to_string().starts_with("x.json: cell `c1`"), "{e}");
        let two = r#"{"modules":{"m":{"ports":{},"cells":{
            "c1":{"type":"$_NOT_","connections":{"A":[2],"Y":[3]}},
            "c2":{"type":"$_BUF_","connections":{"A":[2],"Y":[3]}}}}}}"#;
        assert!(matches!(
            kind(two),
            NetlistErrorKind::Circuit(CircuitError::MultipleDrivers { .. })
        ));
    }
}
