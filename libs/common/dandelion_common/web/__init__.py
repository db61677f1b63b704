"""FastAPI building blocks shared by the api and search apps."""
