"""Exported forms of a deployable model: files that run without this package.

    logmel_graph   the log-mel front end written with operators every exporter knows (STFT, matmul, log)
    formats        TorchScript and ONNX files of the deployed network, with or without the front end,
                   and the input contract written beside each file
"""
