"""QA analytics of transcribed calls: forbidden/courtesy phrases, greeting, silence, talk-over."""
