# Environment for every Rasa and action server process we start; sourced by run.sh, cluster.sh and
# test.sh (so the tests' servers run as `make run`'s do).
# No telemetry or crash reports leave the machine.
export RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
# Sanic reads SANIC_* settings: refuse request bodies over 1 MB (413) instead of Sanic's 100 MB.
export SANIC_REQUEST_MAX_SIZE=${SANIC_REQUEST_MAX_SIZE:-1000000}
# Rasa's listen backlog is 100: a burst of new conversations through nginx (which opens a
# connection per request) overflowed it, and the kernel refused connections (seen as 502s).
export SANIC_BACKLOG=${SANIC_BACKLOG:-1024}
# One BLAS thread per process: OpenBLAS's extra thread spins between small matrix products and takes
# the CPU other processes need (measured when the sentence encoder still ran on NumPy: the 2-replica
# cluster 33 -> 61 turns/s; the encoder now runs on ONNX Runtime, also on one thread).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
