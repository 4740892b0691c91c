//! Post-training quantization accuracy tests of mcuc (see
//! `tests/onnx_ptq.rs`): the int8 model mcuc quantizes from a float ONNX
//! model against that float model run by tract.
