"""(placeholder: filled in by the grading work.)"""
