"""The hostile-model suite's pieces: attack scripts a scripted model hands the daemon (`attacks`) and
the host-side setup and checks around a run of them (`host`)."""
