"""The embeddable widget: the built bundle and the route that serves it per site."""
