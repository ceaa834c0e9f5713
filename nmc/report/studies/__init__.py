"""The headline studies: each computes one question's numbers, CSVs and figures with
run(quick, out) -> headline dict. `nmc report` runs them; experiments/<name>.py is the command
line of each."""
