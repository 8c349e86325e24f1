"""The Textual board. Imports the domain and the store interface; never the network."""
