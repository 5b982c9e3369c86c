from pava.cli import main

main()
