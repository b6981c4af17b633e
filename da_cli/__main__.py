from da_cli.cli import main

main()
