"""Call recordings: where the files live (paths), how a finished one is put on the call record
(link), how long the files are kept (retention). A leaf for the transcription: ivr.transcribe reads
recordings, ivr.recording never imports it; the hook run when a recorded call ends
(ivr.transcribe.hook) wires the two."""
