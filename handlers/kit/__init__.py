"""What the feature handlers share: context, guards, replies, buttons, cards, prompts, errors."""
