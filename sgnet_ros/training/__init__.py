"""The lab side: synthetic rooms, datasets, `sgnet-train`, `sgnet-eval`, metrics and the
`sgnet-hha` dataset converter.

May import from pipeline/, network/ and bags/ (to write synthetic bags); never from ros/'s node.
"""
