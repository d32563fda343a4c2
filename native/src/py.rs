//! The extension module `driftline_native`: one class, `Decoder`, built once per schema.
//!
//! `decode(messages)` takes the `list[bytes]` a Kafka consumer or the file reader returns,
//! reads it without the GIL (the bytes objects are kept alive and never copied), and returns
//! `(rows, rejected, floats, strings, keys)`: int64 arrays of accepted and rejected line
//! indices, one float64 array per float column (NaN: missing), per string column its distinct
//! texts in order of first appearance with an int32 index per row (-1: missing), and with
//! label columns each accepted event's id key (int64, 0: no id; empty otherwise).

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::reader::{Reader, Spec};

type Output<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Vec<Bound<'py, PyArray1<f64>>>,
    Vec<(Bound<'py, PyList>, Bound<'py, PyArray1<i32>>)>,
    Bound<'py, PyArray1<i64>>,
);

#[pyclass(frozen, name = "Decoder", module = "driftline_native")]
struct PyDecoder {
    reader: Reader,
}

#[pymethods]
impl PyDecoder {
    #[new]
    #[pyo3(signature = (*, fields, numeric, categorical, segments, labels, model_id, floor,
                        max_message_bytes, label_columns=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        fields: Vec<(String, Vec<String>)>,
        numeric: Vec<String>,
        categorical: Vec<String>,
        segments: Vec<String>,
        labels: bool,
        model_id: Option<String>,
        floor: f64,
        max_message_bytes: usize,
        label_columns: bool,
    ) -> PyResult<Self> {
        let spec = Spec {
            fields,
            numeric,
            categorical,
            segments,
            labels,
            label_columns,
            model_id,
            floor,
            max_message_bytes,
        };
        Ok(PyDecoder {
            reader: Reader::new(spec).map_err(PyValueError::new_err)?,
        })
    }

    /// The batch's accepted rows, rejected rows, float columns, string columns and id keys.
    fn decode<'py>(&self, py: Python<'py>, messages: &Bound<'py, PyList>) -> PyResult<Output<'py>> {
        let owned: Vec<Bound<'py, PyBytes>> = messages
            .iter()
            .map(|m| m.cast_into::<PyBytes>().map_err(PyErr::from))
            .collect::<PyResult<_>>()?;
        let slices: Vec<&[u8]> = owned.iter().map(|b| b.as_bytes()).collect();
        let reader = &self.reader;
        let decoded = py.detach(|| reader.decode(&slices));
        let floats = decoded
            .floats
            .into_iter()
            .map(|c| c.into_pyarray(py))
            .collect();
        let mut strings = Vec::with_capacity(decoded.strings.len());
        for col in decoded.strings {
            let uniques = PyList::new(py, col.uniques.iter().map(|u| &**u))?;
            strings.push((uniques, col.indices.into_pyarray(py)));
        }
        Ok((
            decoded.rows.into_pyarray(py),
            decoded.rejected.into_pyarray(py),
            floats,
            strings,
            decoded.keys.into_pyarray(py),
        ))
    }
}

/// The module: `Decoder` and the crate's version.
#[pymodule]
fn driftline_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDecoder>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
