//! A reader for ONNX model protobufs: opsets, producer, graph signature, initializers.
